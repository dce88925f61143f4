"""zhllama's rope types in vLLM: the tables equal zhllama's core, other types stay vLLM's own."""

import math
import warnings

import pytest
import torch

from zhllama.core.rope_scaling import RopeReachWarning, inv_freq, plan
from zhllama.core.rope_scaling.formulas import default_inv_freq
from zhllama.errors import RopeScalingError

pytestmark = pytest.mark.usefixtures("cpu_vllm_config", "plugin_installed")

HEAD_DIM = 32
TRAINED = 256
SERVED_CONTEXT = 4 * TRAINED
PI_CONFIG = {
    "hidden_size": 256,
    "num_attention_heads": 8,
    "max_position_embeddings": 4 * TRAINED,
    "rope_scaling": {"type": "linear", "factor": 4.0},
}
"""The tiny model's shape as a "16K-style" checkpoint: fine-tuned with PI factor 4."""


def overrides(config: dict, context: int, method: str | None = None) -> dict:
    """The hf_overrides the plan renders for vLLM (past-reach warnings are beside the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)
        return plan(config, context, method, runtime="vllm").vllm()["settings"]["hf_overrides"]


def get_rope(max_position: int, rope_parameters: dict):
    """vLLM's get_rope as the Llama model calls it (through the name it imported)."""
    from vllm.model_executor.models import llama

    return llama.get_rope(
        HEAD_DIM, max_position=max_position, rope_parameters=rope_parameters, dtype=torch.float32
    )


def core_table(method: str, params: dict, *, max_position: int, seq_len: int, positions: int) -> torch.Tensor:
    inv, scaling = inv_freq(
        method, params, head_dim=HEAD_DIM, base=10000.0, max_position_embeddings=max_position, seq_len=seq_len
    )
    freqs = torch.outer(torch.arange(positions, dtype=torch.float32), inv)
    return torch.cat((freqs.cos() * scaling, freqs.sin() * scaling), dim=-1)


def test_auto_ntk_is_a_table_for_the_served_length_with_the_ntk_aware_base(tiny_config):
    hf = overrides(tiny_config, SERVED_CONTEXT, "auto")
    rope = hf["rope_parameters"]
    assert rope["rope_type"] == "zhllama_dynamic_auto"
    emb = get_rope(tiny_config["max_position_embeddings"], rope)

    alpha = SERVED_CONTEXT / (TRAINED / 2) - 1
    expected_inv = default_inv_freq(HEAD_DIM, 10000.0 * alpha ** (HEAD_DIM / (HEAD_DIM - 2)))
    assert type(emb).__name__ == "ZhllamaRotaryEmbedding"
    assert emb.cos_sin_cache.shape == (SERVED_CONTEXT, HEAD_DIM)
    torch.testing.assert_close(emb.zhllama_inv_freq, expected_inv)
    expected = core_table("auto", {}, max_position=TRAINED, seq_len=SERVED_CONTEXT, positions=SERVED_CONTEXT)
    torch.testing.assert_close(emb.cos_sin_cache, expected)


def test_pi_plus_auto_ntk_divides_positions_by_the_checkpoints_factor():
    context = 2 * PI_CONFIG["max_position_embeddings"]
    rope = overrides(PI_CONFIG, context)["rope_parameters"]
    assert (rope["rope_type"], rope["factor"]) == ("zhllama_dynamic_auto", 4.0)
    emb = get_rope(PI_CONFIG["max_position_embeddings"], rope)

    expected = core_table(
        "auto",
        {"factor": 4.0},
        max_position=PI_CONFIG["max_position_embeddings"],
        seq_len=context,
        positions=context,
    )
    torch.testing.assert_close(emb.cos_sin_cache, expected)
    plain_ntk = core_table(
        "auto",
        {"factor": 1.0},
        max_position=PI_CONFIG["max_position_embeddings"],
        seq_len=context,
        positions=context,
    )
    assert not torch.allclose(emb.cos_sin_cache, plain_ntk)


@pytest.mark.parametrize("method", ["dynamic", "dynamic_yarn"])
def test_the_other_length_dependent_methods_match_the_core_too(tiny_config, method):
    hf = overrides(tiny_config, SERVED_CONTEXT, method)
    rope = hf["rope_parameters"]
    emb = get_rope(tiny_config["max_position_embeddings"], rope)
    params = {k: v for k, v in rope.items() if k not in ("rope_type", "rope_theta", "max_model_len")}
    expected = core_table(
        method, params, max_position=TRAINED, seq_len=SERVED_CONTEXT, positions=SERVED_CONTEXT
    )
    torch.testing.assert_close(emb.cos_sin_cache, expected)


@pytest.mark.parametrize(
    ("method", "vllm_class"),
    [("linear", "LinearScalingRotaryEmbedding"), ("yarn", "YaRNScalingRotaryEmbedding")],
)
def test_linear_and_yarn_stay_vllms_own_classes_and_agree_with_the_plan(tiny_config, method, vllm_class):
    hf = overrides(tiny_config, SERVED_CONTEXT, method)
    rope = hf["rope_parameters"]
    emb = get_rope(hf["max_position_embeddings"], rope)

    assert type(emb).__name__ == vllm_class
    assert emb.cos_sin_cache.shape[0] >= SERVED_CONTEXT
    params = {k: v for k, v in rope.items() if k not in ("rope_type", "rope_theta")}
    expected = core_table(method, params, max_position=TRAINED, seq_len=None, positions=SERVED_CONTEXT)
    torch.testing.assert_close(emb.cos_sin_cache[:SERVED_CONTEXT], expected)


def test_vllms_own_dynamic_type_is_not_the_familys_auto_ntk(tiny_config):
    """vllm#41236: with transformers' factor 2 its base stays the trained one at any served length."""
    served = {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}
    theirs = get_rope(SERVED_CONTEXT, served)
    ours = get_rope(TRAINED, overrides(tiny_config, SERVED_CONTEXT)["rope_parameters"])
    plain = core_table(
        "linear", {"factor": 1.0}, max_position=TRAINED, seq_len=None, positions=SERVED_CONTEXT
    )

    torch.testing.assert_close(theirs.cos_sin_cache, plain)
    assert not torch.allclose(ours.cos_sin_cache, plain, atol=1e-3)


def test_the_table_follows_the_engines_max_model_len_when_it_differs_from_the_overrides(tiny_config):
    from zhllama.adapters.vllm.rotary import build

    rope = overrides(tiny_config, SERVED_CONTEXT, "auto")["rope_parameters"]
    emb = build(HEAD_DIM, HEAD_DIM, TRAINED, True, rope, torch.float32, served_max_model_len=2048)

    assert emb.cos_sin_cache.shape == (2048, HEAD_DIM)
    alpha = 2048 / (TRAINED / 2) - 1
    torch.testing.assert_close(
        emb.zhllama_inv_freq, default_inv_freq(HEAD_DIM, 10000.0 * alpha ** (HEAD_DIM / (HEAD_DIM - 2)))
    )


def test_the_embedding_rotates_queries_with_its_table():
    rope = {"rope_type": "zhllama_dynamic_auto", "factor": 1.0, "coeff": 1.0, "rope_theta": 10000.0}
    emb = get_rope(TRAINED, rope | {"max_model_len": SERVED_CONTEXT})
    positions = torch.tensor([0, 700])
    query = torch.zeros(2, HEAD_DIM)
    query[:, 0] = 1.0  # the first frequency pair: (x0, x16) = (1, 0)
    rotated, _ = emb.forward_native(positions, query, query.clone())

    angle = 700 * emb.zhllama_inv_freq[0].item()
    assert rotated[1, 0].item() == pytest.approx(math.cos(angle), abs=1e-5)
    assert rotated[1, HEAD_DIM // 2].item() == pytest.approx(math.sin(angle), abs=1e-5)


@pytest.mark.parametrize(
    ("rope", "message"),
    [
        (
            {"rope_type": "zhllama_dynamic_bogus"},
            "unknown zhllama rope type 'zhllama_dynamic_bogus'.*provides",
        ),
        ({"rope_type": "zhllama_dynamic_auto", "alpha": 2.0}, "has no parameter.*alpha.*takes factor, coeff"),
        ({"rope_type": "zhllama_dynamic_auto", "factor": 0.5}, "factor must be a number >= 1"),
        ({"rope_type": "zhllama_dynamic_auto", "factor": "4"}, "factor must be a number >= 1"),
        ({"rope_type": "zhllama_dynamic_auto", "max_model_len": -3}, "max_model_len must be a positive"),
        ({"rope_type": "zhllama_dynamic_auto", "rope_theta": "1e4"}, "rope_theta must be a number"),
        ({"rope_type": "zhllama_dynamic_ntk"}, "needs factor"),
    ],
)
def test_malformed_zhllama_rope_settings_say_what_is_wrong(rope, message):
    with pytest.raises(RopeScalingError, match=message):
        get_rope(TRAINED, rope)


def test_unknown_types_reach_vllm_unchanged_and_get_its_own_error():
    with pytest.raises(ValueError, match="Unknown RoPE scaling type bogus"):
        get_rope(TRAINED, {"rope_type": "bogus", "rope_theta": 10000.0})
