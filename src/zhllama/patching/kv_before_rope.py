"""Store keys *before* RoPE in the KV cache, so length-dependent RoPE stays consistent while generating.

Why: with a length-dependent method (``auto``, ``dynamic``, ``dynamic_yarn``) transformers
recomputes the RoPE frequencies for the current total length on every forward, but the default
cache holds keys already rotated with the frequencies of the step that produced them. After a few
generated tokens the cached keys and the new query disagree on the base, and cached generation
drifts from what a full forward over the same tokens computes. Upstream Chinese-LLaMA-Alpaca-2
fixes it with ``STORE_KV_BEFORE_ROPE``: cache the un-rotated keys and rotate all of them with the
current frequencies at every step. This module does the same for transformers' Llama attention.

Contract:

- ``apply_store_kv_before_rope(model)`` replaces the ``forward`` of every ``LlamaAttention`` in
  ``model`` (an instance attribute: the class is untouched, other models are unaffected) and
  returns how many layers it patched; applying twice is a no-op. ``revert_store_kv_before_rope``
  removes the patch; ``store_kv_before_rope(model)`` does both around a ``with`` block.
- A patched model computes the same logits as the unpatched one for a forward without cache. With
  a ``DynamicCache`` (what ``generate`` uses) every cached key is rotated with the current base, so
  the first layer's attention equals a full forward over the whole sequence (a one-layer model
  decodes exactly as a full recompute). Deeper layers still read keys computed from hidden states
  that earlier layers produced under an older base; no KV cache can fix that (only recomputing
  does), so a multi-layer model keeps a small residual gap (on the tiny model about 20x smaller
  than the default cache's). The cache holds un-rotated keys: do not share it with an unpatched
  model.
- Positions inside attention are the cache indices ``0..kv_len-1`` (as upstream): RoPE scores depend
  only on position differences, so a left-padded batch attends as with transformers' own positions.
- Cost: every step re-rotates all cached keys, O(context) extra work per layer and token.
- Supported: ``LlamaForCausalLM`` / ``LlamaModel`` in transformers 5.x with eager or sdpa
  attention and a growing cache (``DynamicCache``); anything else raises ``RopeScalingError``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from zhllama.errors import RopeScalingError

KV_CACHE_MODES = ("default", "before_rope")
"""``default``: transformers' cache of rotated keys; ``before_rope``: un-rotated keys (this module)."""

_MARK = "_zhllama_kv_before_rope"


def _rotary_embedding(model: Any) -> Any:
    backbone = getattr(model, "model", model)
    rotary = getattr(backbone, "rotary_emb", None)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise RopeScalingError(
            f"{type(model).__name__} has no Llama rotary embedding (model.model.rotary_emb): the "
            "before_rope KV cache supports LlamaForCausalLM and LlamaModel only"
        )
    return rotary


def _attention_layers(model: Any) -> list[Any]:
    from transformers.models.llama.modeling_llama import LlamaAttention

    layers = [module for module in model.modules() if isinstance(module, LlamaAttention)]
    if not layers:
        raise RopeScalingError(
            f"{type(model).__name__} has no LlamaAttention layers: the before_rope KV cache supports "
            "LlamaForCausalLM and LlamaModel only"
        )
    return layers


def _check_attention_implementation(model: Any) -> None:
    implementation = getattr(model.config, "_attn_implementation", None) or "eager"
    if implementation not in ("eager", "sdpa"):
        raise RopeScalingError(
            f"the before_rope KV cache supports eager and sdpa attention, not {implementation!r}: "
            "load the model with attn_implementation='sdpa' (the default on CPU) or 'eager'"
        )


def apply_store_kv_before_rope(model: Any) -> int:
    """Patch ``model``'s Llama attention layers to cache keys before RoPE; return how many."""
    rotary = _rotary_embedding(model)
    _check_attention_implementation(model)
    layers = _attention_layers(model)
    for attention in layers:
        if not getattr(attention, _MARK, False):
            attention.forward = partial(_forward_before_rope, attention, rotary)
            setattr(attention, _MARK, True)
    return len(layers)


def revert_store_kv_before_rope(model: Any) -> int:
    """Undo ``apply_store_kv_before_rope``; return how many layers were restored (0 if none were patched)."""
    restored = 0
    for attention in _attention_layers(model):
        if getattr(attention, _MARK, False):
            del attention.forward
            delattr(attention, _MARK)
            restored += 1
    return restored


def is_storing_kv_before_rope(model: Any) -> bool:
    """Whether ``model``'s attention layers are patched by ``apply_store_kv_before_rope``."""
    return any(getattr(attention, _MARK, False) for attention in _attention_layers(model))


@contextmanager
def store_kv_before_rope(model: Any) -> Iterator[Any]:
    """``with store_kv_before_rope(model): ...`` patches for the block only (if it was not patched before)."""
    was_patched = is_storing_kv_before_rope(model)
    apply_store_kv_before_rope(model)
    try:
        yield model
    finally:
        if not was_patched:
            revert_store_kv_before_rope(model)


def set_kv_cache_mode(model: Any, mode: str) -> None:
    """Switch ``model`` to a mode of ``KV_CACHE_MODES`` (what ``zhllama.load(kv_cache=...)`` calls)."""
    check_kv_cache_mode(mode)
    if mode == "before_rope":
        apply_store_kv_before_rope(model)
    else:
        revert_store_kv_before_rope(model)


def check_kv_cache_mode(mode: str) -> str:
    """``mode`` if it is one of ``KV_CACHE_MODES``; otherwise a ``RopeScalingError`` naming them."""
    if mode not in KV_CACHE_MODES:
        raise RopeScalingError(
            f"unknown KV cache mode {mode!r}: use one of {', '.join(KV_CACHE_MODES)} "
            "(before_rope keeps adaptive NTK consistent during cached generation)"
        )
    return mode


def _cos_sin(rotary: Any, length: int, like: Any) -> tuple[Any, Any]:
    """cos/sin for positions ``0..length-1`` with the rotary embedding's *current* frequencies.

    The model's forward has just called ``rotary_emb`` for this step, so ``inv_freq`` and
    ``attention_scaling`` are those for the current total length; the arithmetic follows
    ``LlamaRotaryEmbedding.forward`` so that the numbers are the same.
    """
    import torch

    positions = torch.arange(length, device=like.device, dtype=torch.float32)
    freqs = positions[:, None] * rotary.inv_freq.to(device=like.device, dtype=torch.float32)
    emb = torch.cat((freqs, freqs), dim=-1)
    scaling = rotary.attention_scaling
    return (emb.cos() * scaling).to(like.dtype), (emb.sin() * scaling).to(like.dtype)


def _rotate(states: Any, cos: Any, sin: Any) -> Any:
    from transformers.models.llama.modeling_llama import rotate_half

    return states * cos + rotate_half(states) * sin


def _forward_before_rope(
    self: Any,
    rotary: Any,
    hidden_states: Any,
    position_embeddings: Any = None,
    attention_mask: Any = None,
    cache: Any = None,
    past_key_values: Any = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """``LlamaAttention.forward`` with the cache holding un-rotated keys (see the module docstring)."""
    from transformers.models.llama.modeling_llama import ALL_ATTENTION_FUNCTIONS, eager_attention_forward

    cache = cache if cache is not None else past_key_values
    input_shape = hidden_states.shape[:-1]
    hidden_shape = (*input_shape, -1, self.head_dim)
    query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
    key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
    value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)

    new = key_states.shape[-2]
    if cache is not None:
        past = cache.get_seq_length(self.layer_idx)
        key_states, value_states = cache.update(key_states, value_states, self.layer_idx, kwargs=kwargs)
        if key_states.shape[-2] != past + new:
            raise RopeScalingError(
                f"the before_rope KV cache needs a cache that grows by appending (DynamicCache); "
                f"{type(cache).__name__} returned {key_states.shape[-2]} keys after {past} + {new}: "
                "generate with the default cache_implementation"
            )
    total = key_states.shape[-2]
    cos, sin = _cos_sin(rotary, total, query_states)
    query_states = _rotate(query_states, cos[total - new :], sin[total - new :])
    key_states = _rotate(key_states, cos, sin)

    attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(
        self.config._attn_implementation, eager_attention_forward
    )
    attn_output, attn_weights = attention_interface(
        self,
        query_states,
        key_states,
        value_states,
        attention_mask,
        dropout=0.0 if not self.training else self.attention_dropout,
        scaling=self.scaling,
        **kwargs,
    )
    attn_output = attn_output.reshape(*input_shape, -1).contiguous()
    return self.o_proj(attn_output), attn_weights
