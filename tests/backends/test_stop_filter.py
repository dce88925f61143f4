"""Stop sequences on streamed text: cut before the first stop, never emit part of one."""

from zhllama.backends import StopFilter


def run(pieces: list[str], stops: list[str]) -> tuple[str, StopFilter]:
    stop_filter = StopFilter(stops)
    emitted = "".join(stop_filter.feed(piece) for piece in pieces) + stop_filter.flush()
    return emitted, stop_filter


def test_the_reply_ends_before_the_stop_sequence():
    emitted, stop_filter = run(["曹操", "字孟德。刘备"], ["。"])
    assert emitted == "曹操字孟德"
    assert stop_filter.stopped and stop_filter.stop_sequence == "。"


def test_a_stop_sequence_split_across_pieces_is_caught_and_none_of_it_is_emitted():
    stop_filter = StopFilter(["Observation:"])
    assert stop_filter.feed("答案 Obs") == "答案 "
    assert stop_filter.feed("ervation: 更多") == ""
    assert stop_filter.stopped and stop_filter.flush() == ""


def test_held_back_text_that_is_not_a_stop_after_all_is_released():
    assert run(["好的\n", "\n"], ["\n\n\n"])[0] == "好的\n\n"
    assert run(["abc", "d"], ["cde"])[0] == "abcd"


def test_the_earliest_stop_in_the_text_wins():
    emitted, stop_filter = run(["一，二。三"], ["。", "，"])
    assert emitted == "一"
    assert stop_filter.stop_sequence == "，"


def test_without_stops_everything_passes_straight_through():
    stop_filter = StopFilter([])
    assert stop_filter.feed("[INST]") == "[INST]"
    assert not stop_filter.stopped
