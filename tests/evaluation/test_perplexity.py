"""Perplexity over whole windows and their last slice: the library functions on a small slice of
held-out novel text, checked against a direct computation with the model's own logits."""

import json
import math

import pytest
import torch

import zhllama
from zhllama.errors import ZhllamaError
from zhllama.evaluation import (
    TokenStream,
    cut_windows,
    parse_lengths,
    parse_methods,
    perplexity,
    read_corpus,
    rope_request,
    run_perplexity,
    window_nll,
)

NOVEL = "novel_西游记.txt"


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    loaded, _ = zhllama.load(tiny_model_dir)
    return loaded


@pytest.fixture(scope="module")
def config(tiny_model_dir) -> dict:
    return json.loads((tiny_model_dir / "config.json").read_text())


def _direct_nll(model, window: list[int]) -> torch.Tensor:
    ids = torch.tensor([window])
    with torch.no_grad():
        logits = model(ids).logits[0, :-1].float()
    return -torch.log_softmax(logits, -1).gather(-1, ids[0, 1:, None])[:, 0].double()


def test_window_nll_is_the_next_token_loss_at_every_position(model):
    window = list(range(100, 140))
    # chunked and whole-window logits differ only by float32 summation order
    torch.testing.assert_close(
        window_nll(model, window, chunk=7), _direct_nll(model, window), rtol=1e-6, atol=1e-5
    )


def test_all_is_over_every_prediction_and_last_over_each_windows_last_slice(model):
    windows = [list(range(200, 240)), list(range(300, 340))]
    losses = [window_nll(model, w) for w in windows]
    result = perplexity(losses, last=10)
    direct = [_direct_nll(model, w) for w in windows]
    assert result.all == pytest.approx(math.exp(torch.cat(direct).mean().item()))
    assert result.last == pytest.approx(math.exp(torch.cat([d[-10:] for d in direct]).mean().item()))
    assert (result.windows, result.predictions, result.last_positions) == (2, 78, 10)


def test_a_last_slice_longer_than_a_window_is_refused(model):
    with pytest.raises(ZhllamaError, match="longer than a window's 9 predictions"):
        perplexity([window_nll(model, list(range(10)))], last=10)


def test_windows_are_consecutive_per_file_and_the_remainder_is_dropped():
    streams = [TokenStream("a", list(range(10))), TokenStream("b", list(range(100, 107)))]
    assert cut_windows(streams, 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [100, 101, 102], [103, 104, 105]]
    assert cut_windows(streams, 3, max_windows_per_file=1) == [[0, 1, 2], [100, 101, 102]]
    with pytest.raises(ZhllamaError, match="no 11-token window fits"):
        cut_windows(streams, 11)


def test_read_corpus_keeps_the_tail_and_explains_bad_files(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("话说天下大势", encoding="utf-8")
    encode = lambda text: [ord(c) for c in text]  # noqa: E731
    assert read_corpus([good], encode, tail_tokens=2)[0].ids == [ord("大"), ord("势")]
    with pytest.raises(ZhllamaError, match="does not exist"):
        read_corpus([tmp_path / "missing.txt"], encode)
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("话说天下大势".encode("gbk"))
    with pytest.raises(ZhllamaError, match=r"is not UTF-8 text.*iconv"):
        read_corpus([gbk], encode)
    with pytest.raises(ZhllamaError, match="no evaluation data"):
        read_corpus([], encode)


def test_method_and_length_lists_are_checked():
    assert parse_methods("none, pi,auto,pi") == ["none", "pi", "auto"]
    with pytest.raises(ZhllamaError, match=r"unknown evaluation method.*'ntk2'.*none, pi, ntk"):
        parse_methods("none,ntk2")
    assert parse_lengths("512,256,512") == [256, 512]
    with pytest.raises(ZhllamaError, match="'1k' is not an integer"):
        parse_lengths("256,1k")
    with pytest.raises(ZhllamaError, match="too short"):
        parse_lengths("1")


def test_each_method_maps_onto_a_rope_scaling_method_only_past_the_trained_length(config):
    assert rope_request("pi", config, 1024) == {"context": 1024, "rope_method": "linear"}
    assert rope_request("auto", config, 1024) == {"context": 1024, "rope_method": "auto"}
    assert rope_request("none", config, 1024) == {}
    assert rope_request("yarn", config, 256) == {}


def test_grouped_attention_is_named_with_its_group_and_window_and_checked_before_loading(config):
    assert parse_methods("selfextend,selfextend:32:128") == ["selfextend", "selfextend:32:128"]
    assert rope_request("selfextend:32:128", config, 4096) == {
        "context": 4096,
        "rope_method": "selfextend",
        "rope_params": {"group": 32, "window": 128},
    }
    assert rope_request("selfextend", config, 1024) == {"context": 1024, "rope_method": "selfextend"}
    assert rope_request("selfextend:32:128", config, 256) == {}
    with pytest.raises(ZhllamaError, match=r"write grouped attention as selfextend:GROUP:WINDOW"):
        parse_methods("selfextend:32")
    with pytest.raises(ZhllamaError, match=r"use `group` >= 32"):
        rope_request("selfextend:16:128", config, 4096)


def test_run_perplexity_measures_each_length_and_method_through_zhllama_load(tiny_model_dir, assets, model):
    result = run_perplexity(
        tiny_model_dir,
        [assets / "corpus" / NOVEL],
        "64,300",
        "none,pi,yarn",
        tail_tokens=1000,
        max_windows_per_file=2,
    )
    assert result.last == 63 and result.trained_length == 256
    assert result.plan == {64: "none", 300: "auto"}
    cells = {(row.length, row.method): row for row in result.rows}
    assert set(cells) == {(n, m) for n in (64, 300) for m in ("none", "pi", "yarn")}
    assert cells[300, "pi"].rope_parameters["rope_type"] == "linear"
    assert cells[300, "pi"].rope_parameters["factor"] == pytest.approx(300 / 256)
    assert cells[64, "pi"].ppl_all == cells[64, "none"].ppl_all  # within the trained length: no scaling
    assert cells[300, "yarn"].ppl_all != cells[300, "none"].ppl_all
    # the "none" cell equals a direct computation over the same windows
    ids = read_corpus([assets / "corpus" / NOVEL], _sp_encode(tiny_model_dir), tail_tokens=1000)[0].ids
    direct = [_direct_nll(model, ids[i * 300 : (i + 1) * 300]) for i in range(2)]
    assert cells[300, "none"].ppl_all == pytest.approx(math.exp(torch.cat(direct).mean().item()), rel=1e-6)
    assert cells[300, "none"].ppl_last == pytest.approx(
        math.exp(torch.cat([d[-63:] for d in direct]).mean().item()), rel=1e-6
    )
    assert cells[300, "none"].windows == 2 and cells[300, "none"].seconds > 0


def _sp_encode(folder):
    from zhllama.core.tokenizer.model_file import load_processor, resolve_model_file

    return load_processor(resolve_model_file(folder)).encode
