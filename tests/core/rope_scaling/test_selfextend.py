"""``selfextend``: its validity rule, ``plan`` with it, and what each runtime is told."""

import warnings

import pytest

from zhllama.core.rope_scaling import RopeScalingError, describe, format_plan, plan
from zhllama.core.rope_scaling.selfextend import (
    candidates,
    check_fits,
    grouped_key_position,
    grouped_query_position,
    largest_distance,
    reach_of,
    smallest_group,
)

LLAMA_7B = {"hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 10000.0}
CKPT_4K = {**LLAMA_7B, "max_position_embeddings": 4096}
CKPT_16K = {**LLAMA_7B, "max_position_embeddings": 16384, "rope_scaling": {"type": "linear", "factor": 4.0}}
CKPT_64K = {
    **LLAMA_7B,
    "max_position_embeddings": 65536,
    "rope_scaling": {"type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096},
}
TINY = {"hidden_size": 256, "num_attention_heads": 8, "head_dim": 32, "max_position_embeddings": 256}


def test_positions_and_the_largest_distance_follow_the_issues_formula():
    assert grouped_query_position(4095, 64, 128) == 4095 // 64 + 128 - 2
    assert grouped_key_position(130, 64) == 2
    # the issue's measured cases at 4,096 tokens on a model trained at 256
    assert largest_distance(4096, 32, 128) == 251
    assert largest_distance(4096, 64, 128) == 189
    assert largest_distance(4096, 16, 128) == 375  # collapses: beyond 256
    assert largest_distance(100, 8, 128) == 127  # all inside the window
    assert reach_of(256, 32, 128) == 4224
    assert largest_distance(reach_of(256, 32, 128), 32, 128) < 256 <= largest_distance(4225, 32, 128)
    assert smallest_group(256, 4096, 128) == 32
    assert smallest_group(256, 4096, 256) is None


def test_the_distance_is_continuous_where_the_window_ends():
    """A key just outside the window is about ``window`` away, as the last neighbour is ``window - 1``."""
    group, window = 8, 64
    for query in range(window, 600):
        key = query - window
        grouped = grouped_query_position(query, group, window) - grouped_key_position(key, group)
        assert window <= grouped <= window + 1


@pytest.mark.parametrize(
    ("group", "window", "context", "message"),
    [
        (1, 128, 1024, r"`group` must be a whole number >= 2 \(a group of 1 is plain RoPE\), got 1"),
        (0, 128, 1024, r"`group` must be a whole number >= 2"),
        (True, 128, 1024, r"`group` must be a whole number >= 2"),
        (8.0, 128, 1024, r"`group` must be a whole number >= 2"),
        (8, 0, 1024, r"`window` must be a whole number >= 1"),
        (8, "128", 1024, r"`window` must be a whole number >= 1"),
        (8, 256, 1024, r"`window` 256 must be below the trained length 256.*e.g. `window` 128"),
        (16, 128, 4096, r"relative positions up to 375, beyond the 256.*use `group` >= 32.*reaches 2176"),
    ],
)
def test_bad_groups_and_windows_are_refused_with_what_to_use(group, window, context, message):
    with pytest.raises(RopeScalingError, match=message):
        check_fits(256, context, group, window)


def test_plan_picks_a_valid_group_and_window_for_every_target():
    for context in (257, 512, 1024, 2048, 4096, 16384, 65536):
        chosen = plan(TINY, context, "selfextend")
        group, window = chosen.params["group"], chosen.params["window"]
        assert window == 128
        assert largest_distance(context, group, window) < 256, (context, group)
        assert chosen.attention() == {"group": group, "window": window}


def test_tuning_candidates_all_keep_the_rule_and_start_at_the_smallest_valid_group():
    for trained, context in ((256, 512), (256, 4096), (256, 16384), (4096, 65536)):
        pairs = candidates(trained, context)
        assert {pair["window"] for pair in pairs} == {trained // 2, trained // 4}
        for pair in pairs:
            assert largest_distance(context, pair["group"], pair["window"]) < trained, (context, pair)
    assert [pair["group"] for pair in candidates(256, 4096)[:3]] == [32, 64, 128]


def test_asked_for_parameters_win_and_the_others_fit_them():
    assert plan(TINY, 4096, "selfextend", {"group": 32}).params["group"] == 32
    fitted = plan(TINY, 4096, "selfextend", {"window": 64})
    assert fitted.params["window"] == 64
    assert largest_distance(4096, fitted.params["group"], 64) < 256
    with pytest.raises(RopeScalingError, match=r"use `group` >= 32"):
        plan(TINY, 4096, "selfextend", {"group": 16})
    with pytest.raises(RopeScalingError, match=r"has no parameter\(s\) alpha"):
        plan(TINY, 4096, "selfextend", {"alpha": 2})
    with pytest.raises(RopeScalingError, match=r"keeps the checkpoint's own RoPE \('none'\), not 'yarn'"):
        plan(TINY, 4096, "selfextend", {"rope": "yarn"})


def test_parameters_without_a_method_must_belong_to_the_default_one():
    with pytest.raises(RopeScalingError, match=r"`group` is not a parameter of .*`rope_method` selfextend"):
        plan(CKPT_16K, 32768, params={"group": 8})


def test_pi_and_yarn_checkpoints_keep_their_own_scaling_under_grouping():
    pi = plan(CKPT_16K, 65536, "selfextend")
    assert pi.transformers() == {"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0}
    assert largest_distance(65536, pi.params["group"], pi.params["window"]) < 16384
    yarn = plan(CKPT_64K, 262144, "selfextend")
    assert yarn.transformers()["rope_type"] == "yarn"
    assert (yarn.transformers()["factor"], yarn.transformers()["original_max_position_embeddings"]) == (
        16.0,
        4096,
    )
    plain = plan(CKPT_4K, 16384, "selfextend")
    assert plain.transformers() == {"rope_type": "default", "rope_theta": 10000.0}
    assert plain.transformers_config()["max_position_embeddings"] == 16384


def test_each_runtime_is_told_what_runs_it_and_what_cannot():
    chosen = plan(CKPT_4K, 16384, "selfextend")
    transformers = chosen.runtime("transformers")
    assert transformers["settings"]["grouped_attention"] == chosen.attention()
    assert any("set_grouped_attention" in note for note in transformers["notes"])
    llama_cpp = chosen.runtime("llamacpp")["settings"]
    assert llama_cpp["grouped_attention"] == chosen.attention()
    assert llama_cpp["kwargs"]["n_ctx"] == 16384 and llama_cpp["kwargs"]["type_k"] == 0
    assert "--cache-type-k f32" in " ".join(llama_cpp["cli"])
    for runtime in ("vllm", "webui"):
        rendered = chosen.runtime(runtime)
        assert rendered["settings"] == {}
        assert "cannot run in" in rendered["notes"][0]
    with pytest.raises(RopeScalingError, match=r"'selfextend' cannot run in vllm: vLLM's attention backends"):
        chosen.vllm()
    assert "[vllm]" in format_plan(chosen)


def test_a_runtime_that_cannot_run_it_is_refused_at_plan_time_and_never_gets_it_by_default():
    with pytest.raises(RopeScalingError, match=r"cannot run in vllm.*use one of .*dynamic_yarn"):
        plan(CKPT_4K, 16384, "selfextend", runtime="vllm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for runtime in ("vllm", "webui"):
            for context in (8192, 16384, 65536):
                assert plan(CKPT_4K, context, runtime=runtime).method != "selfextend"
    with pytest.raises(RopeScalingError, match="unknown runtime 'tgi'"):
        plan(CKPT_4K, 16384, runtime="tgi")


def test_describe_is_unchanged_by_the_new_method():
    assert describe(CKPT_4K).recommended_method == "auto"
