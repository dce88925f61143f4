"""Read a checkpoint's RoPE settings from its ``config.json`` as shipped.

Three spellings exist in the wild: the legacy ``rope_scaling`` with ``type`` (the 16K and 64K
checkpoints), transformers 5's ``rope_parameters`` with ``rope_type``, or neither (plain RoPE).
``describe`` turns any of them into one ``Checkpoint`` the planner and the CLI use.
"""

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from zhllama.core.rope_scaling.method import Checkpoint, Target
from zhllama.core.rope_scaling.registry import get_method
from zhllama.errors import RopeScalingError

DEFAULT_BASE = 10000.0
_SHIPPED_KINDS = {"default": "none", "linear": "linear", "yarn": "yarn"}
_RECOMMENDED = {"none": "auto", "linear": "auto", "yarn": "yarn"}


def _rope_type(entry: Mapping[str, Any]) -> str:
    return str(entry.get("rope_type") or entry.get("type") or "default")


def _scaling_entry(config: Mapping[str, Any]) -> dict[str, Any]:
    legacy = config.get("rope_scaling")
    current = config.get("rope_parameters")
    for key, value in (("rope_scaling", legacy), ("rope_parameters", current)):
        if value is not None and not isinstance(value, Mapping):
            raise RopeScalingError(f"config {key} must be a JSON object, got {value!r}")
    if legacy and current:
        same = _rope_type(legacy) == _rope_type(current) and all(
            legacy.get(key) == current.get(key) for key in ("factor", "original_max_position_embeddings")
        )
        if not same:
            raise RopeScalingError(
                f"config has conflicting rope_scaling {dict(legacy)} and rope_parameters {dict(current)}: "
                "keep one of them (transformers 5 reads rope_parameters; the legacy rope_scaling would win "
                "in older versions), then retry"
            )
    return dict(legacy or current or {})


def _require(config: Mapping[str, Any], entry: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if entry.get(key) is None]
    if missing:
        raise RopeScalingError(
            f"config {where} is missing {', '.join(missing)}: add it to config.json (the family's "
            'checkpoints ship e.g. {"type": "linear", "factor": 4.0} or {"type": "yarn", "factor": 16.0, '
            '"original_max_position_embeddings": 4096})'
        )


def describe(config: Mapping[str, Any]) -> Checkpoint:
    """What a checkpoint was trained for (a ``Checkpoint``), from its ``config.json`` dict.

    Missing, conflicting or malformed keys raise ``RopeScalingError`` naming the key.
    """
    if not isinstance(config, Mapping):
        raise RopeScalingError(f"expected a config.json dict, got {type(config).__name__}")
    _require(config, config, ("max_position_embeddings",), "")
    entry = _scaling_entry(config)
    rope_type = _rope_type(entry)
    max_pos = _whole(config["max_position_embeddings"], "max_position_embeddings", minimum=2)
    base = _number(entry.get("rope_theta") or config.get("rope_theta") or DEFAULT_BASE, "rope_theta")
    if base <= 1:
        raise RopeScalingError(f"config rope_theta must be a number > 1 (10000 for Llama-2), got {base!r}")
    head_dim = config.get("head_dim")
    if head_dim is None:
        _require(config, config, ("hidden_size", "num_attention_heads"), "(to derive head_dim)")
        heads = _whole(config["num_attention_heads"], "num_attention_heads", minimum=1)
        head_dim = _whole(config["hidden_size"], "hidden_size", minimum=1) // heads
    head_dim = _whole(head_dim, "head_dim", minimum=4)
    if head_dim % 2:
        raise RopeScalingError(f"config head_dim must be even (RoPE rotates pairs), got {head_dim}")
    if rope_type == "zhllama_dynamic_auto":  # a config saved after zhllama.load(context=...)
        rope_type = "linear" if _number(entry.get("factor") or 1.0, "rope scaling factor") > 1 else "default"
    if rope_type not in _SHIPPED_KINDS:
        raise RopeScalingError(
            f"unsupported shipped rope type {rope_type!r}: the family's checkpoints ship plain RoPE, "
            "'linear' (16K) or 'yarn' (64K); restore the original config.json"
        )
    kind = _SHIPPED_KINDS[rope_type]
    factor = 1.0
    original = max_pos
    if kind in ("linear", "yarn"):
        _require(config, entry, ("factor",), f"rope scaling ({rope_type})")
        factor = _number(entry["factor"], "rope scaling factor")
        if factor < 1:
            raise RopeScalingError(f"config rope scaling factor must be >= 1, got {factor}")
        original = round(max_pos / factor)
    if kind == "yarn" and entry.get("original_max_position_embeddings") is not None:
        original = _whole(entry["original_max_position_embeddings"], "original_max_position_embeddings", 2)
    recommended = get_method(_RECOMMENDED[kind])
    described = Checkpoint(kind, factor, max_pos, original, base, head_dim, recommended.name, max_pos)
    if recommended.reach is None:
        return described
    target = Target(described, max_pos)
    params = recommended.resolve(recommended.choose(target) if recommended.choose else {})
    return replace(described, usable_length=recommended.reach(target, params)[0])


def _number(value: Any, key: str) -> float:
    """A finite real number from config.json (not a string, a bool or NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RopeScalingError(
            f"config {key} must be a number, got {value!r}: restore the original config.json"
        )
    return float(value)


def _whole(value: Any, key: str, minimum: int) -> int:
    """A whole number >= ``minimum`` from config.json."""
    number = _number(value, key)
    if number != int(number) or number < minimum:
        raise RopeScalingError(
            f"config {key} must be a whole number >= {minimum}, got {value!r}: "
            "restore the original config.json"
        )
    return int(number)


def shipped_rope_parameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint's own scaling as a clean transformers ``rope_parameters`` dict.

    This is how the 64K checkpoints load without remote code: their legacy
    ``{"type": "yarn", ..., "finetuned": true}`` becomes transformers' native ``yarn``.
    """
    ckpt = describe(config)
    base = ckpt.rope_theta
    if ckpt.kind == "none":
        return {"rope_type": "default", "rope_theta": base}
    if ckpt.kind == "linear":
        return {"rope_type": "linear", "factor": ckpt.factor, "rope_theta": base}
    entry = _scaling_entry(config)
    rope = {
        "rope_type": "yarn",
        "factor": ckpt.factor,
        "original_max_position_embeddings": ckpt.original_length,
        "beta_fast": float(entry.get("beta_fast") or 32.0),
        "beta_slow": float(entry.get("beta_slow") or 1.0),
        "rope_theta": base,
    }
    return rope
