"""Read a checkpoint's RoPE settings from its ``config.json`` as shipped.

Three spellings exist in the wild: the legacy ``rope_scaling`` with ``type`` (the 16K and 64K
checkpoints), transformers 5's ``rope_parameters`` with ``rope_type``, or neither (plain RoPE).
``describe`` turns any of them into one plain dict the planner and the CLI use.
"""

from collections.abc import Mapping
from typing import Any

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


def describe(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint was trained for, from its ``config.json`` dict.

    Keys: ``kind`` (none | linear | yarn: how it was trained), ``method`` (the scaling it ships
    with, "none" for plain RoPE), ``factor``, ``trained_length`` (``max_position_embeddings``),
    ``original_length`` (the pre-extension length: trained / PI factor, or YaRN's
    ``original_max_position_embeddings``), ``rope_theta``, ``head_dim``,
    ``max_position_embeddings``, ``recommended_method`` and ``usable_length`` (how far the
    recommended method carries it). Missing or conflicting keys raise ``RopeScalingError``.
    """
    if not isinstance(config, Mapping):
        raise RopeScalingError(f"expected a config.json dict, got {type(config).__name__}")
    _require(config, config, ("max_position_embeddings",), "")
    entry = _scaling_entry(config)
    rope_type = _rope_type(entry)
    max_pos = int(config["max_position_embeddings"])
    base = float(entry.get("rope_theta") or config.get("rope_theta") or DEFAULT_BASE)
    head_dim = config.get("head_dim")
    if head_dim is None:
        _require(config, config, ("hidden_size", "num_attention_heads"), "(to derive head_dim)")
        head_dim = int(config["hidden_size"]) // int(config["num_attention_heads"])
    if rope_type == "zhllama_dynamic_auto":  # a config saved after zhllama.load(context=...)
        rope_type = "linear" if float(entry.get("factor") or 1.0) > 1 else "default"
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
        factor = float(entry["factor"])
        if factor < 1:
            raise RopeScalingError(f"config rope scaling factor must be >= 1, got {factor}")
        original = round(max_pos / factor)
    if kind == "yarn":
        original = int(entry.get("original_max_position_embeddings") or original)
    described = {
        "kind": kind,
        "method": "none" if kind == "none" else kind,
        "factor": factor,
        "trained_length": max_pos,
        "original_length": original,
        "rope_theta": base,
        "head_dim": int(head_dim),
        "max_position_embeddings": max_pos,
        "recommended_method": _RECOMMENDED[kind],
    }
    from zhllama.core.rope_scaling.method import Target
    from zhllama.core.rope_scaling.registry import get_method

    recommended = get_method(described["recommended_method"])
    target = Target(described, max_pos)
    params = recommended.resolve(recommended.choose(target) if recommended.choose else {})
    described["usable_length"] = recommended.reach(target, params)[0] if recommended.reach else max_pos
    return described


def shipped_rope_parameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint's own scaling as a clean transformers ``rope_parameters`` dict.

    This is how the 64K checkpoints load without remote code: their legacy
    ``{"type": "yarn", ..., "finetuned": true}`` becomes transformers' native ``yarn``.
    """
    ckpt = describe(config)
    base = ckpt["rope_theta"]
    if ckpt["kind"] == "none":
        return {"rope_type": "default", "rope_theta": base}
    if ckpt["kind"] == "linear":
        return {"rope_type": "linear", "factor": ckpt["factor"], "rope_theta": base}
    entry = _scaling_entry(config)
    rope = {
        "rope_type": "yarn",
        "factor": ckpt["factor"],
        "original_max_position_embeddings": ckpt["original_length"],
        "beta_fast": float(entry.get("beta_fast") or 32.0),
        "beta_slow": float(entry.get("beta_slow") or 1.0),
        "rope_theta": base,
    }
    return rope
