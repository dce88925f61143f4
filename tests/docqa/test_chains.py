"""The shared stuff / refine / map-reduce orchestration, with a scripted ``ask`` (no model needed)."""

import pytest

from zhllama.core import prompts
from zhllama.docqa import chains


def scripted():
    calls = []

    def ask(prompt, values):
        calls.append((prompt.name, dict(values)))
        return f"<{prompt.name}#{len(calls)}>"

    return ask, calls


def test_stuff_answers_in_one_call_with_the_texts_joined():
    ask, calls = scripted()
    assert chains.answer(ask, "问", ["甲", "乙"]) == "<stuff_qa#1>"
    assert calls == [("stuff_qa", {"context": "甲\n\n乙", "question": "问"})]


def test_refine_carries_the_previous_answer_into_each_step():
    ask, calls = scripted()
    chains.answer(ask, "问", ["甲", "乙", "丙"], "refine")
    assert [name for name, _ in calls] == ["refine_qa_initial", "refine_qa_step", "refine_qa_step"]
    assert calls[2][1] == {"question": "问", "existing_answer": "<refine_qa_step#2>", "context_str": "丙"}


def test_map_reduce_summary_collapses_until_one_group_is_left():
    ask, calls = scripted()
    collapse = lambda partials: [partials[i : i + 2] for i in range(0, len(partials), 2)]  # noqa: E731
    chains.summarize(ask, ["一", "二", "三", "四"], "map_reduce", collapse=collapse)
    assert [name for name, _ in calls] == ["summary"] * 7  # 4 maps, 2 collapses, 1 reduce
    assert calls[-1][1]["text"] == "<summary#5>\n\n<summary#6>"


def test_a_collapse_that_makes_no_progress_is_an_error():
    ask, _ = scripted()
    with pytest.raises(ValueError, match="too long to combine"):
        chains.summarize(ask, ["一", "二"], "map_reduce", collapse=lambda partials: [[p] for p in partials])


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="stuff, refine, map_reduce"):
        chains.answer(scripted()[0], "问", [], "tree")
    assert prompts.SUMMARY.fields == ("text",)
