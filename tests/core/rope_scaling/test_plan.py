"""``describe`` and ``plan``: the right method per checkpoint and target, rendered per runtime."""

import json
import math
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner

from zhllama.cli import main
from zhllama.core.rope_scaling import (
    RopeReachWarning,
    RopeScalingError,
    describe,
    plan,
    register_transformers_rope_types,
)

LLAMA_7B = {"hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 10000.0}
CKPT_4K = {**LLAMA_7B, "max_position_embeddings": 4096}
CKPT_16K = {**LLAMA_7B, "max_position_embeddings": 16384, "rope_scaling": {"type": "linear", "factor": 4.0}}
CKPT_64K = {
    **LLAMA_7B,
    "max_position_embeddings": 65536,
    "rope_scaling": {
        "type": "yarn",
        "factor": 16.0,
        "original_max_position_embeddings": 4096,
        "finetuned": True,
    },
    "auto_map": {"AutoModelForCausalLM": "modeling_llama_yarn.LlamaForCausalLM"},
}


def test_describe_reads_each_shipped_spelling():
    plain, pi, yarn = describe(CKPT_4K), describe(CKPT_16K), describe(CKPT_64K)
    assert (plain.kind, plain.trained_length, plain.factor, plain.usable_length) == (
        "none",
        4096,
        1.0,
        16384,
    )
    assert (pi.kind, pi.factor, pi.trained_length, pi.original_length) == (
        "linear",
        4.0,
        16384,
        4096,
    )
    assert (yarn.kind, yarn.factor, yarn.original_length, yarn.usable_length) == (
        "yarn",
        16.0,
        4096,
        65536,
    )
    assert yarn.head_dim == 128
    modern = {
        **LLAMA_7B,
        "max_position_embeddings": 16384,
        "rope_parameters": {"rope_type": "linear", "factor": 4.0},
    }
    assert describe(modern).kind == "linear"


def test_conflicting_rope_scaling_and_rope_parameters_are_refused():
    conflicting = {**CKPT_16K, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}
    with pytest.raises(RopeScalingError, match=r"conflicting rope_scaling.*keep one of them"):
        describe(conflicting)


def test_missing_keys_are_named():
    with pytest.raises(RopeScalingError, match="missing max_position_embeddings"):
        describe({"hidden_size": 4096})
    with pytest.raises(RopeScalingError, match="missing factor"):
        describe({**CKPT_4K, "rope_scaling": {"type": "linear"}})


@pytest.mark.parametrize(
    ("config", "target", "method", "rope_type"),
    [
        (CKPT_4K, 4096, "linear", "default"),
        (CKPT_16K, 16384, "linear", "linear"),
        (CKPT_4K, 8192, "auto", "zhllama_dynamic_auto"),
        (CKPT_4K, 16384, "selfextend", "default"),
        (CKPT_16K, 24576, "auto", "zhllama_dynamic_auto"),
        (CKPT_64K, 65536, "yarn", "yarn"),
    ],
)
def test_each_checkpoint_gets_its_method(config, target, method, rope_type):
    result = plan(config, target)
    assert result.method == method
    assert result.transformers()["rope_type"] == rope_type


@pytest.mark.parametrize("runtime", ["vllm", "webui", "llamacpp"])
def test_runtimes_without_fast_grouped_attention_get_dynamic_yarn_beyond_2x(runtime):
    result = plan(CKPT_4K, 16384, runtime=runtime)
    assert (result.method, result.transformers()["rope_type"]) == ("dynamic_yarn", "zhllama_dynamic_yarn")


def test_pi_checkpoints_keep_their_interpolation_under_auto():
    result = plan(CKPT_16K, 32768)
    assert result.params == {"factor": 4.0, "coeff": 1.0}
    assert result.transformers_config()["max_position_embeddings"] == 16384


def test_yarn_checkpoints_map_onto_transformers_native_yarn_without_the_remote_flag():
    rope = plan(CKPT_64K, 65536).transformers()
    assert rope == {
        "rope_type": "yarn",
        "factor": 16.0,
        "original_max_position_embeddings": 4096,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "rope_theta": 10000.0,
    }


def test_vllm_gets_hf_overrides_and_a_custom_type_for_adaptive_ntk():
    rendered = plan(CKPT_4K, 16384, method="auto").vllm()
    assert rendered["settings"]["max_model_len"] == 16384
    assert rendered["settings"]["hf_overrides"]["rope_parameters"]["rope_type"] == "zhllama_dynamic_auto"
    assert any("vLLM plugin" in note for note in rendered["notes"])
    yarn = plan(CKPT_64K, 65536).vllm()["settings"]
    assert yarn["hf_overrides"]["rope_parameters"]["rope_type"] == "yarn"


def test_llama_cpp_gets_the_fixed_ntk_base_for_the_target_and_says_so():
    rendered = plan(CKPT_4K, 16384, method="auto").llama_cpp()
    alpha = 16384 / 2048 - 1
    kwargs = rendered["settings"]["kwargs"]
    assert kwargs["rope_freq_base"] == pytest.approx(10000.0 * alpha ** (128 / 126))
    assert kwargs["rope_scaling_type"] == 0 and kwargs["n_ctx"] == 16384
    assert "no adaptive NTK" in rendered["notes"][0]
    assert rendered["settings"]["cli"][:4] == ["-c", "16384", "--rope-scaling", "none"]


def test_llama_cpp_fixed_ntk_base_equals_base_times_alpha_to_d_over_d_minus_2():
    for alpha in (2.0, 4.0, 7.0):
        kwargs = plan(CKPT_4K, int(2048 * (alpha + 1)), method="ntk").llama_cpp()["settings"]["kwargs"]
        assert kwargs["rope_freq_base"] == pytest.approx(10000.0 * alpha ** (128 / 126), rel=1e-12)


def test_llama_cpp_yarn_for_the_64k_checkpoint():
    settings = plan(CKPT_64K, 65536).llama_cpp()["settings"]
    assert settings["kwargs"] == {
        "n_ctx": 65536,
        "rope_scaling_type": 2,
        "rope_freq_scale": 1 / 16,
        "rope_freq_base": 10000.0,
        "yarn_orig_ctx": 4096,
        "yarn_ext_factor": 1.0,
        "yarn_attn_factor": 1.0,
        "yarn_beta_fast": 32.0,
        "yarn_beta_slow": 1.0,
    }
    cli = " ".join(settings["cli"])
    assert "--rope-scaling yarn --rope-scale 16 --rope-freq-base 10000 --yarn-orig-ctx 4096" in cli


def test_llama_cpp_pi_plus_ntk_is_linear_scaling_with_a_raised_base():
    kwargs = plan(CKPT_16K, 32768).llama_cpp()["settings"]["kwargs"]
    assert kwargs["rope_scaling_type"] == 1 and kwargs["rope_freq_scale"] == 0.25
    assert kwargs["rope_freq_base"] == pytest.approx(10000.0 * 3.0 ** (128 / 126))


def test_webui_is_told_to_write_the_config_before_load():
    rendered = plan(CKPT_16K, 24576).webui()
    assert rendered["settings"]["config_json"]["rope_parameters"]["rope_type"] == "zhllama_dynamic_auto"
    assert rendered["settings"]["truncation_length"] == 24576
    assert any("alpha_value" in note for note in rendered["notes"])


def test_an_explicit_method_is_honoured_and_an_unfit_one_is_refused():
    assert plan(CKPT_4K, 8192, method="yarn").params["factor"] == 2.0
    assert plan(CKPT_4K, 8192, method="linear").transformers() == {
        "rope_type": "linear",
        "factor": 2.0,
        "rope_theta": 10000.0,
    }
    with pytest.raises(
        RopeScalingError, match=r"'dynamic' does not fit .*position interpolation.*use one of"
    ):
        plan(CKPT_16K, 32768, method="dynamic")
    with pytest.raises(RopeScalingError, match="unknown rope scaling method 'rerope'"):
        plan(CKPT_4K, 8192, method="rerope")


def test_within_the_trained_length_the_plan_is_the_checkpoints_own_scaling_in_built_in_types():
    pi = plan(CKPT_16K, 8192)
    assert (pi.method, pi.params["factor"], pi.transformers()["rope_type"]) == ("linear", 4.0, "linear")
    served = plan(CKPT_16K, 16384).vllm()
    assert served["settings"]["hf_overrides"]["rope_parameters"]["rope_type"] == "linear", "vLLM's own type"
    assert not served["notes"], "no plugin needed, nothing to warn about"
    assert plan(CKPT_4K, 2048).transformers()["rope_type"] == "default"
    assert plan(CKPT_64K, 65536).transformers()["rope_type"] == "yarn"
    assert plan(CKPT_4K, 2048).llama_cpp()["settings"]["kwargs"]["rope_scaling_type"] == 0


def test_a_method_asked_for_a_target_below_the_trained_length_is_refused():
    with pytest.raises(RopeScalingError, match="below the checkpoint's trained length 16384"):
        plan(CKPT_16K, 8192, method="auto")


def test_the_fallback_for_a_pi_checkpoint_without_the_vllm_plugin_keeps_its_pi():
    notes = plan(CKPT_16K, 32768).vllm()["notes"]
    assert any('"rope_type": "linear"' in note and '"factor": 4.0' in note for note in notes)


def test_a_target_beyond_the_methods_reach_warns_with_the_reason():
    with pytest.warns(RopeReachWarning, match=r"beyond what 'yarn' is known to reach .*fine-tuned with YaRN"):
        result = plan(CKPT_64K, 131072)
    assert result.warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan(CKPT_4K, 16384)


def test_registering_the_transformers_types_is_explicit_and_idempotent():
    probe = (
        "import zhllama.core.rope_scaling, transformers.modeling_rope_utils as m; "
        "print(any(k.startswith('zhllama') for k in m.ROPE_INIT_FUNCTIONS))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    first, second = register_transformers_rope_types(), register_transformers_rope_types()
    assert first == second and {"zhllama_dynamic_auto", "zhllama_dynamic_yarn"} <= set(first)
    assert all("dynamic" in name for name in first)


def test_cli_plan_prints_each_runtime(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CKPT_64K))
    result = CliRunner().invoke(main, ["rope", "plan", str(tmp_path), "--context", "65536"])
    assert result.exit_code == 0, result.output
    for heading in ("[transformers]", "[vllm]", "[llamacpp]", "[webui]"):
        assert heading in result.output
    assert "method yarn" in result.output


def test_cli_plan_json_for_one_runtime(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CKPT_4K))
    result = CliRunner().invoke(
        main, ["rope", "plan", str(config), "--context", "8192", "--runtime", "llamacpp", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data["runtimes"]) == ["llamacpp"]
    assert data["runtimes"]["llamacpp"]["settings"]["kwargs"]["rope_freq_base"] == pytest.approx(
        10000.0 * 3.0 ** (128 / 126)
    )
    assert math.isclose(data["params"]["factor"], 1.0)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CKPT_4K))
    result = CliRunner().invoke(main, ["rope", "plan", str(tmp_path), "--context", "8192", "--method", "x"])
    assert result.exit_code == 1
    assert "Error: unknown rope scaling method 'x'" in result.output
