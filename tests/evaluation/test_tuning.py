"""``tune``: the candidates it measures, the winner it keeps, and what it says to do with it."""

import json

import pytest

from zhllama.errors import ZhllamaError
from zhllama.evaluation.tuning import candidates, tune

NOVEL = "novel_红楼梦.txt"


@pytest.fixture
def config(tiny_model_dir) -> dict:
    return json.loads((tiny_model_dir / "config.json").read_text())


def test_candidates_are_every_fitting_method_and_valid_groups_and_windows(config):
    names = candidates(config, 4096)
    assert names[:6] == ["pi", "ntk", "auto", "yarn", "dynamic", "dynamic_yarn"]
    assert names[6:] == [
        "selfextend:32:128", "selfextend:64:128", "selfextend:128:128",
        "selfextend:32:64", "selfextend:64:64", "selfextend:128:64",
    ]  # fmt: skip
    assert not any(name.startswith("selfextend") for name in candidates(config, 4096, runtime="vllm"))
    with pytest.raises(ZhllamaError, match="trained length 256: there is nothing to tune"):
        candidates(config, 256)


def test_tune_keeps_the_lowest_perplexity_and_says_how_to_use_it(tiny_model_dir, assets):
    result = tune(
        tiny_model_dir,
        [assets / "corpus" / NOVEL],
        512,
        methods="pi,selfextend:8:128",
        tail_tokens=1100,
        max_windows_per_file=2,
    )
    assert {row.method for row in result.rows} == {"pi", "selfextend:8:128"}
    best = min(result.rows, key=lambda row: row.ppl_all)
    assert result.winner == best.method == "selfextend:8:128"  # PI without fine-tuning is far worse
    assert result.last == 255
    grouped = {"group": 8, "window": 128}
    assert result.load == {"context": 512, "rope_method": "selfextend", "rope_params": grouped}
    assert " ".join(result.cli) == "--context 512 --rope-method selfextend --group 8 --window 128"
    assert result.plan["method"] == "selfextend"
    assert "| selfextend:8:128* |" in result.table()
    json.dumps(result.as_dict())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"methods": "selfextend:2:128"}, r"use `group` >= 4"),
        ({"methods": "none,yarn"}, r"candidate 'none' is no RoPE plan"),
        ({"methods": "selfextend:8:128", "runtime": "vllm"}, r"cannot run in vllm"),
        ({"by": "median"}, r"unknown ranking `by` 'median'"),
    ],
)
def test_bad_candidates_are_refused_before_any_model_loads(tiny_model_dir, assets, options, message):
    with pytest.raises(ZhllamaError, match=message):
        tune(tiny_model_dir, [assets / "corpus" / NOVEL], 512, **options)
