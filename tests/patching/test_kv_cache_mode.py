"""The ``before_rope`` KV cache (upstream's STORE_KV_BEFORE_ROPE) under adaptive NTK.

What it guarantees: every cached key is rotated with the current base, so a one-layer model
decodes exactly as a full recompute (the default cache drifts). What no KV cache can give: in a
deeper model the cached keys of later layers were computed from hidden states produced under an
older base, so the four-layer tiny model keeps a small residual gap (about 20x smaller than the
default cache's). The patch is explicit, reversible and leaves uncached forwards unchanged."""

import warnings

import pytest
import torch
from transformers import DynamicCache

import zhllama
from zhllama.core.rope_scaling import RopeScalingError
from zhllama.patching import kv_cache_mode, set_kv_cache_mode, store_kv_before_rope

TRAINED = 256
CONTEXT = 4 * TRAINED
PROMPT = 300  # past the trained length, so every step changes the adaptive base
STEPS = 5


def _ids(n: int) -> torch.Tensor:
    return torch.randint(3, 32000, (1, n), generator=torch.Generator().manual_seed(7))


def _load(tiny_model_dir, layers: int | None = None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = zhllama.load(tiny_model_dir, context=CONTEXT, rope_method="auto", **kwargs)
    if layers is not None:
        model.model.layers = model.model.layers[:layers]
        model.config.num_hidden_layers = layers
    return model


def _step_gaps(model, reference) -> list[float]:
    """Max |logit difference| at each step between cached decoding and a full uncached forward."""
    ids = _ids(PROMPT + STEPS)
    cache = DynamicCache(config=model.config)
    gaps = []
    with torch.no_grad():
        out = model(ids[:, :PROMPT], cache=cache, use_cache=True, logits_to_keep=1)
        for n in range(PROMPT, PROMPT + STEPS):
            full = reference(ids[:, :n], use_cache=False, logits_to_keep=1).logits[0, -1]
            gaps.append((out.logits[0, -1] - full).abs().max().item())
            out = model(ids[:, n : n + 1], cache=cache, use_cache=True, logits_to_keep=1)
    return gaps


@pytest.fixture(scope="module")
def gaps(tiny_model_dir) -> dict[tuple[int, str], list[float]]:
    # a fresh reference per run: transformers keeps the longest length it has seen
    return {
        (layers, mode): _step_gaps(
            _load(tiny_model_dir, layers, kv_cache=mode), _load(tiny_model_dir, layers)
        )
        for layers in (1, 4)
        for mode in ("default", "before_rope")
    }


def test_one_layer_before_rope_decoding_matches_a_full_recompute_at_every_step(gaps):
    assert max(gaps[1, "before_rope"]) < 1e-4, gaps[1, "before_rope"]


def test_one_layer_default_cache_drifts_from_a_full_recompute_once_the_base_moves(gaps):
    assert gaps[1, "default"][0] < 1e-4  # the prefill itself agrees
    assert max(gaps[1, "default"][1:]) > 1e-3, gaps[1, "default"]


def test_four_layers_before_rope_removes_most_of_the_default_caches_drift(gaps):
    assert gaps[4, "before_rope"][0] < 1e-4
    assert max(gaps[4, "before_rope"]) * 10 < max(gaps[4, "default"]), gaps


def test_generate_with_before_rope_picks_the_tokens_an_uncached_generation_picks(tiny_model_dir):
    model = _load(tiny_model_dir, 1, kv_cache="before_rope")
    reference = _load(tiny_model_dir, 1)
    prompt = _ids(PROMPT)
    with torch.no_grad():
        cached = model.generate(prompt, max_new_tokens=4, do_sample=False, pad_token_id=0)
        uncached = reference.generate(
            prompt, max_new_tokens=4, do_sample=False, pad_token_id=0, use_cache=False
        )
    assert torch.equal(cached, uncached)


def test_the_patch_is_explicit_reversible_and_leaves_uncached_forwards_unchanged(tiny_model_dir):
    model = _load(tiny_model_dir)
    ids = _ids(PROMPT)
    with torch.no_grad():
        before = model(ids, use_cache=False).logits
        assert kv_cache_mode(model) == "default"
        assert set_kv_cache_mode(model, "before_rope") == model.config.num_hidden_layers
        assert set_kv_cache_mode(model, "before_rope") == model.config.num_hidden_layers  # idempotent
        assert kv_cache_mode(model) == "before_rope"
        patched = model(ids, use_cache=False).logits
        assert set_kv_cache_mode(model, "default") == 0
        assert kv_cache_mode(model) == "default"
        assert not any("forward" in vars(module) for module in model.modules())
        with store_kv_before_rope(model):
            assert kv_cache_mode(model) == "before_rope"
        assert kv_cache_mode(model) == "default"
    torch.testing.assert_close(patched, before, rtol=1e-5, atol=1e-5)


def test_load_refuses_an_unknown_cache_mode_before_loading(tiny_model_dir):
    with pytest.raises(RopeScalingError, match=r"unknown KV cache mode 'rotated'.*before_rope"):
        zhllama.load(tiny_model_dir, kv_cache="rotated")


def test_a_model_without_llama_attention_is_refused():
    with pytest.raises(RopeScalingError, match="LlamaForCausalLM"):
        set_kv_cache_mode(torch.nn.Linear(2, 2), "before_rope")
