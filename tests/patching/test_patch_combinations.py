"""Kernels, the KV cache mode and grouped attention are three switches on one patch: every
combination and every order of switching leaves the model computing what its state says, and
reverting everything leaves transformers' own forwards."""

import itertools
import warnings

import pytest
import torch
from transformers import DynamicCache

import zhllama
from zhllama.core.rope_scaling import RopeScalingError
from zhllama.patching import (
    apply,
    grouped_attention_settings,
    is_patched,
    kv_cache_mode,
    revert,
    set_grouped_attention,
    set_kv_cache_mode,
)

PROMPT, STEPS = 300, 3  # past the tiny model's 256 trained positions: the adaptive base moves
OPERATIONS = {
    "kernels on": lambda model: apply(model, kernel_mode="reference"),
    "kernels off": revert,
    "before_rope": lambda model: set_kv_cache_mode(model, "before_rope"),
    "default cache": lambda model: set_kv_cache_mode(model, "default"),
}
GROUPED = {"group": 4, "window": 64}
GROUPED_OPERATIONS = {
    **OPERATIONS,
    "grouped on": lambda model: set_grouped_attention(model, **GROUPED),
    "grouped off": lambda model: set_grouped_attention(model, None),
}


def _load(tiny_model_dir, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = zhllama.load(tiny_model_dir, context=1024, rope_method="auto", **kwargs)
    return model


def _decode(model) -> list[torch.Tensor]:
    """Prefill then cached decoding, from a fresh dynamic-RoPE state."""
    rotary = model.model.rotary_emb
    rotary.inv_freq = rotary.original_inv_freq.clone()
    rotary.max_seq_len_cached = rotary.original_max_seq_len
    ids = torch.randint(3, 32000, (1, PROMPT + STEPS), generator=torch.Generator().manual_seed(3))
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        logits = [model(ids[:, :PROMPT], cache=cache, logits_to_keep=1).logits[0, -1]]
        for n in range(PROMPT, PROMPT + STEPS):
            logits.append(model(ids[:, n : n + 1], cache=cache, logits_to_keep=1).logits[0, -1])
    return logits


@pytest.fixture(scope="module")
def expected(tiny_model_dir) -> dict[str, list[torch.Tensor]]:
    """What each KV cache mode computes, on unpatched transformers (kernels change no logits)."""
    model = _load(tiny_model_dir)
    default = _decode(model)
    set_kv_cache_mode(model, "before_rope")
    before_rope = _decode(model)
    set_grouped_attention(model, **GROUPED)
    return {"default": default, "before_rope": before_rope, "grouped": _decode(model)}


def _assert_computes(model, expected, mode: str) -> None:
    for got, want in zip(_decode(model), expected[mode], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_modes_differ_here(expected):
    """Otherwise the checks below could not tell the modes apart."""
    assert (expected["default"][-1] - expected["before_rope"][-1]).abs().max() > 1e-3
    assert (expected["grouped"][-1] - expected["before_rope"][-1]).abs().max() > 1e-3


@pytest.mark.parametrize("sequence", list(itertools.product(OPERATIONS, repeat=3)), ids=" then ".join)
def test_any_order_of_switches_leaves_the_model_as_its_state_says(tiny_model_dir, expected, sequence):
    model = _load(tiny_model_dir)
    kernels, mode = False, "default"
    for name in sequence:
        OPERATIONS[name](model)
        kernels = {"kernels on": True, "kernels off": False}.get(name, kernels)
        mode = {"before_rope": "before_rope", "default cache": "default"}.get(name, mode)
        assert (is_patched(model), kv_cache_mode(model)) == (kernels, mode)
    _assert_computes(model, expected, mode)
    revert(model)
    set_kv_cache_mode(model, "default")
    assert not any("forward" in vars(module) for module in model.modules())
    assert not hasattr(model, "_zhllama_patch")


@pytest.mark.parametrize(
    "sequence",
    [pair for pair in itertools.product(GROUPED_OPERATIONS, repeat=2) if any("grouped" in op for op in pair)],
    ids=" then ".join,
)
def test_grouped_attention_combines_with_the_other_switches_in_any_order(tiny_model_dir, expected, sequence):
    """While grouped attention is on it decides the output; asking for the default cache then is
    refused and changes nothing; switching it off gives back what the other switches say."""
    model = _load(tiny_model_dir)
    kernels, mode, grouped = False, "default", False
    for name in sequence:
        if name == "default cache" and grouped:
            with pytest.raises(RopeScalingError, match="switch it off first"):
                GROUPED_OPERATIONS[name](model)
        else:
            GROUPED_OPERATIONS[name](model)
            kernels = {"kernels on": True, "kernels off": False}.get(name, kernels)
            mode = {"before_rope": "before_rope", "default cache": "default"}.get(name, mode)
            grouped = {"grouped on": True, "grouped off": False}.get(name, grouped)
        assert is_patched(model) == kernels
        assert kv_cache_mode(model) == ("before_rope" if grouped else mode)
        assert grouped_attention_settings(model) == (GROUPED if grouped else None)
    _assert_computes(model, expected, "grouped" if grouped else mode)
    revert(model)
    set_grouped_attention(model, None)
    set_kv_cache_mode(model, "default")
    assert not any("forward" in vars(module) for module in model.modules())
    assert not hasattr(model, "_zhllama_patch")


def test_load_with_both_then_apply_again_then_revert_keeps_the_before_rope_cache(tiny_model_dir, expected):
    """The case that used to lose the before-RoPE patch while its marker stayed set."""
    model = _load(tiny_model_dir, kernels=True, kv_cache="before_rope")
    apply(model, kernel_mode="reference")  # e.g. after model.to(...)
    assert revert(model) is True
    assert (is_patched(model), kv_cache_mode(model)) == (False, "before_rope")
    _assert_computes(model, expected, "before_rope")
