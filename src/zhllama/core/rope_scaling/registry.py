"""The registered RoPE scaling methods (built-in and from plugins) and the ``inv_freq`` entry point."""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling.method import RopeMethod, Shape
from zhllama.errors import RopeScalingError

HOOK = "register_rope_methods"


def methods() -> dict[str, RopeMethod]:
    """Every registered method by name."""
    from zhllama.plugins import registry

    return registry(HOOK)


def get_method(method: str | RopeMethod) -> RopeMethod:
    """The method named ``method`` (a ``RopeMethod`` passes through); unknown names list the known ones."""
    if isinstance(method, RopeMethod):
        return method
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
