"""The RoPE scaling methods by name (built-in, plus plugins') and the ``inv_freq`` entry point.

``METHODS`` holds the built-in methods, as transformers' ``ROPE_INIT_FUNCTIONS`` holds its rope
types: looking one up loads no plugin. An unknown name, or a listing, merges in the methods that
plugins register through ``register_rope_methods`` (once per process).
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import auto, dynamic, dynamic_yarn, linear, ntk, selfextend, yarn
from zhllama.core.rope_scaling.method import RopeMethod, Shape
from zhllama.errors import RopeScalingError

HOOK = "register_rope_methods"
METHODS: dict[str, RopeMethod] = {
    method.name: method
    for method in (
        linear.METHOD,
        ntk.METHOD,
        auto.METHOD,
        dynamic.METHOD,
        yarn.METHOD,
        dynamic_yarn.METHOD,
        selfextend.METHOD,
    )
}


def methods() -> dict[str, RopeMethod]:
    """Every method by name: built-in first, then the plugins'."""
    from zhllama.plugins import merged

    registered = merged(HOOK, METHODS, check=lambda value: isinstance(value, RopeMethod))
    return {name: entry.value for name, entry in registered.items()}


def get_method(method: str | RopeMethod) -> RopeMethod:
    """The method named ``method`` (a ``RopeMethod`` passes through); unknown names list the known ones."""
    if isinstance(method, RopeMethod):
        return method
    if method in METHODS:
        return METHODS[method]
    known = methods()
    if method not in known:
        raise RopeScalingError(
            f"unknown rope scaling method {method!r}: use one of {', '.join(sorted(known))} "
            "(or install the plugin that provides it)"
        )
    return known[method]


def inv_freq(
    method: str | RopeMethod,
    params: Mapping[str, Any] | None,
    *,
    head_dim: int,
    base: float,
    max_position_embeddings: int,
    seq_len: int | None,
) -> tuple[Any, float]:
    """``(inv_freq, attention_scaling)`` of ``method`` for the current ``seq_len``.

    ``inv_freq`` is a float32 tensor of ``head_dim // 2`` inverse frequencies; cos/sin are
    ``cos(position * inv_freq) * attention_scaling``. ``params`` are completed with the method's
    defaults; ``seq_len=None`` means ``max_position_embeddings`` (what a model computes at load).
    """
    found = get_method(method)
    if head_dim < 4 or head_dim % 2:
        raise RopeScalingError(f"head_dim must be an even number >= 4, got {head_dim}")
    if seq_len is not None and int(seq_len) < 1:
        raise RopeScalingError(f"seq_len must be a positive length or None, got {seq_len}")
    shape = Shape(
        head_dim=int(head_dim), base=float(base), max_position_embeddings=int(max_position_embeddings)
    )
    return found.compute(found.resolve(params), shape, seq_len)
