"""One reversible patch per model: the fused kernels, the KV cache mode and grouped attention, with
one undo log.

A loaded transformers Llama model has three switches:

- **kernels** (``apply`` / ``revert``): every ``LlamaRMSNorm``, the rotary embedding, each
  attention, SiLU MLP and decoder layer run zhllama's fused ops (``zhllama.patching.forwards``),
  chosen per device and dtype by ``zhllama.core.kernels.dispatch``;
- **KV cache mode** (``set_kv_cache_mode``; ``default`` or ``before_rope``): whether the cache
  holds keys before RoPE;
- **grouped attention** (``set_grouped_attention(model, group=G, window=W)``, ``None`` to switch it
  off): the ``selfextend`` method's attention (``zhllama.patching.grouped_attention``). It needs
  the keys before RoPE, so while it is on the cache holds them whatever the mode switch says,
  ``kv_cache_mode`` reports ``before_rope``, and asking for the ``default`` cache is an error.

Why ``before_rope``: with a length-dependent method (``auto``, ``dynamic``, ``dynamic_yarn``)
transformers recomputes the RoPE frequencies for the current total length on every forward, but
the default cache holds keys already rotated with the frequencies of the step that produced them,
so cached generation drifts from a full forward over the same tokens. Upstream
Chinese-LLaMA-Alpaca-2's ``STORE_KV_BEFORE_ROPE`` caches un-rotated keys and rotates all of them
with the current frequencies at every step; this does the same. With it the first layer's
attention equals a full forward (a one-layer model decodes exactly as a full recompute); deeper
layers still read keys computed from hidden states that earlier layers produced under an older
base, which no KV cache can fix, so a multi-layer model keeps a small gap (on the tiny model about
20x smaller than the default cache's). Positions inside attention are the cache indices
``0..kv_len-1`` (as upstream). Cost: every step re-rotates all cached keys. Needs eager or sdpa
attention and a growing ``DynamicCache``; do not share such a cache with an unpatched model.

How the switches combine: the model's state (a ``ModelPatch`` on the model) says which are on;
every change first undoes everything zhllama set (the undo log restores each module's previous
instance ``forward``, or deletes ours so the class's runs again), then sets the forwards the new
state needs. So any order of ``apply``, ``revert`` and mode changes, repeated or not, leaves the
forwards exactly as the state says, and the state is never out of step with them. Classes and
other models are untouched.
"""

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from zhllama.core.kernels import dispatch, reference
from zhllama.errors import KernelError, RopeScalingError
from zhllama.patching import forwards

ATTRIBUTE = "_zhllama_patch"
KV_CACHE_MODES = ("default", "before_rope")
"""``default``: transformers' cache of rotated keys; ``before_rope``: un-rotated keys."""
OPS = ("rms_norm", "add_rms_norm", "rope", "swiglu")
_MISSING = object()


@dataclass(frozen=True)
class KernelPatch:
    """What ``apply`` chose: the device and dtype it patched for and each op's backend."""

    device: str
    dtype: str
    backends: dict[str, str]


@dataclass
class ModelPatch:
    """A model's patch state and the undo log of the forwards set for it."""

    kernels: KernelPatch | None = None
    kv_before_rope: bool = False
    grouped: tuple[int, int] | None = None
    modules: int = 0
    undo: list[tuple[torch.nn.Module, Any]] = field(default_factory=list, repr=False)


def _llama_modules(model: torch.nn.Module) -> dict[str, list[torch.nn.Module]]:
    from transformers.models.llama import modeling_llama as ml

    classes = {
        "norm": ml.LlamaRMSNorm,
        "rotary": ml.LlamaRotaryEmbedding,
        "attention": ml.LlamaAttention,
        "mlp": ml.LlamaMLP,
        "layer": ml.LlamaDecoderLayer,
    }
    return {kind: [m for m in model.modules() if isinstance(m, cls)] for kind, cls in classes.items()}


def _state(model: torch.nn.Module) -> ModelPatch:
    return getattr(model, ATTRIBUTE, None) or ModelPatch()


def _set(state: ModelPatch, module: torch.nn.Module, forward: Callable[..., Any]) -> None:
    state.undo.append((module, module.__dict__.get("forward", _MISSING)))
    module.forward = types.MethodType(forward, module)
    state.modules += 1


def _rebuild(model: torch.nn.Module, state: ModelPatch) -> None:
    """Undo every forward zhllama set on ``model``, then set those ``state`` asks for."""
    for module, previous in reversed(state.undo):
        if previous is _MISSING:
            module.__dict__.pop("forward", None)
        else:
            module.forward = previous
    state.undo.clear()
    state.modules = 0
    if state.kernels is None and not state.kv_before_rope and state.grouped is None:
        if hasattr(model, ATTRIBUTE):
            delattr(model, ATTRIBUTE)
        return
    found = _llama_modules(model)
    rotary = found["rotary"][0]
    if state.kernels is None:
        for module in found["attention"]:
            _set(
                state,
                module,
                forwards.attention_forward(reference.rope, state.kv_before_rope, rotary, state.grouped),
            )
    else:
        ops = {
            op: dispatch.kernel(op, state.kernels.device, state.kernels.dtype, backend=name)
            for op, name in state.kernels.backends.items()
        }
        for module in found["norm"]:
            _set(state, module, forwards.norm_forward(ops["rms_norm"]))
        for module in found["rotary"]:
            _set(state, module, forwards.rotary_forward())
        for module in found["attention"]:
            _set(
                state,
                module,
                forwards.attention_forward(ops["rope"], state.kv_before_rope, rotary, state.grouped),
            )
        for module in found["mlp"]:
            if module.config.hidden_act in ("silu", "swish"):
                _set(state, module, forwards.mlp_forward(ops["swiglu"]))
        for module in found["layer"]:
            _set(state, module, forwards.layer_forward(ops["add_rms_norm"]))
    setattr(model, ATTRIBUTE, state)


# -- kernels ---------------------------------------------------------------------------------------
def apply(
    model: torch.nn.Module, *, backend: str | None = None, kernel_mode: str | None = None
) -> KernelPatch | None:
    """Patch a transformers Llama model in place with the fused kernels; return what was chosen.

    The backends are chosen for the device and dtype of the model's parameters
    (``zhllama.core.kernels.dispatch``; ``kernel_mode`` overrides ``ZHLLAMA_KERNELS``, ``backend``
    forces one backend for every op). With ``ZHLLAMA_KERNELS=off`` nothing changes and None is
    returned. Applying again re-chooses (e.g. after ``model.to(...)``); the KV cache mode stays.
    Undo with ``revert``.
    """
    chosen_mode = dispatch.mode(kernel_mode)
    if chosen_mode == dispatch.OFF and backend is None:
        return None
    found = _llama_modules(model)
    if not found["layer"] or not found["rotary"]:
        raise KernelError(
            f"{type(model).__name__} is not a transformers Llama model (no LlamaDecoderLayer or "
            "LlamaRotaryEmbedding found): zhllama's kernels patch LlamaForCausalLM / LlamaModel only"
        )
    parameter = next(model.parameters())
    device, dtype = parameter.device.type, parameter.dtype
    backends = {op: backend or dispatch.choose(op, device, dtype, kernel_mode=chosen_mode) for op in OPS}
    state = _state(model)
    state.kernels = KernelPatch(device, str(dtype).removeprefix("torch."), backends)
    _rebuild(model, state)
    return state.kernels


def revert(model: torch.nn.Module) -> bool:
    """Undo ``apply`` on ``model`` (the KV cache mode stays); return whether kernels were on."""
    state = _state(model)
    if state.kernels is None:
        return False
    state.kernels = None
    _rebuild(model, state)
    return True


def is_patched(model: torch.nn.Module) -> bool:
    """Whether ``model`` runs zhllama's kernels (``apply`` and no ``revert`` since)."""
    return _state(model).kernels is not None


def kernel_patch(model: torch.nn.Module) -> KernelPatch | None:
    """What ``apply`` chose for ``model``, or None when its kernels are off."""
    return _state(model).kernels


# -- the KV cache mode -----------------------------------------------------------------------------
def check_kv_cache_mode(mode: str) -> str:
    """``mode`` if it is one of ``KV_CACHE_MODES``; otherwise a ``RopeScalingError`` naming them."""
    if mode not in KV_CACHE_MODES:
        raise RopeScalingError(
            f"unknown KV cache mode {mode!r}: use one of {', '.join(KV_CACHE_MODES)} "
            "(before_rope keeps adaptive NTK consistent during cached generation)"
        )
    return mode


def _check_before_rope_fits(model: Any, what: str = "the before_rope KV cache") -> list[torch.nn.Module]:
    found = _llama_modules(model)
    if not found["rotary"]:
        raise RopeScalingError(
            f"{type(model).__name__} has no Llama rotary embedding (model.model.rotary_emb): "
            f"{what} supports LlamaForCausalLM and LlamaModel only"
        )
    if not found["attention"]:
        raise RopeScalingError(
            f"{type(model).__name__} has no LlamaAttention layers: {what} supports LlamaForCausalLM and "
            "LlamaModel only"
        )
    implementation = getattr(model.config, "_attn_implementation", None) or "eager"
    if implementation not in ("eager", "sdpa"):
        raise RopeScalingError(
            f"{what} supports eager and sdpa attention, not {implementation!r}: "
            "load the model with attn_implementation='sdpa' (the default on CPU) or 'eager'"
        )
    return found["attention"]


def set_kv_cache_mode(model: Any, mode: str) -> int:
    """Switch ``model`` to a mode of ``KV_CACHE_MODES`` (kernels stay as they are); return how many
    attention layers the mode now covers (0 for ``default``)."""
    check_kv_cache_mode(mode)
    state = _state(model)
    if mode == "default" and state.grouped is not None:
        raise RopeScalingError(
            "grouped attention (selfextend) is on, and it needs the cache to hold keys before RoPE: "
            "switch it off first (zhllama.patching.set_grouped_attention(model, None))"
        )
    layers = _check_before_rope_fits(model) if mode == "before_rope" else []
    if state.kv_before_rope != (mode == "before_rope"):
        state.kv_before_rope = mode == "before_rope"
        _rebuild(model, state)
    return len(layers)


def kv_cache_mode(model: Any) -> str:
    """``model``'s KV cache mode: ``before_rope`` or ``default`` (``before_rope`` while grouped
    attention is on)."""
    state = _state(model)
    return "before_rope" if state.kv_before_rope or state.grouped is not None else "default"


@contextmanager
def store_kv_before_rope(model: Any) -> Iterator[Any]:
    """``with store_kv_before_rope(model): ...``: the ``before_rope`` mode for the block only."""
    previous = _state(model).kv_before_rope
    set_kv_cache_mode(model, "before_rope")
    try:
        yield model
    finally:
        state = _state(model)
        if state.kv_before_rope != previous:
            state.kv_before_rope = previous
            _rebuild(model, state)


# -- grouped attention -----------------------------------------------------------------------------
def set_grouped_attention(model: Any, group: int | None = None, window: int | None = None) -> int:
    """Switch ``model``'s attention to grouped attention (``selfextend``) with ``group`` and
    ``window``, or back (``group=None``); return how many attention layers it now covers.

    The frequencies stay the rotary embedding's (the checkpoint's own scaling). Which ``group`` and
    ``window`` a context needs is ``zhllama.core.rope_scaling.plan``'s business; here they only
    have to be whole numbers (group >= 2, window >= 1).
    """
    from zhllama.core.rope_scaling.selfextend import check_group_window

    state = _state(model)
    if group is None and window is None:
        wanted, layers = None, []
    else:
        wanted = check_group_window(group, window)
        layers = _check_before_rope_fits(model, "grouped attention (selfextend)")
    if state.grouped != wanted:
        state.grouped = wanted
        _rebuild(model, state)
    return len(layers)


def grouped_attention_settings(model: Any) -> dict[str, int] | None:
    """``{"group": G, "window": W}`` while ``model`` runs grouped attention, else None."""
    grouped = _state(model).grouped
    return None if grouped is None else {"group": grouped[0], "window": grouped[1]}
