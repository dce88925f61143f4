"""The method names of ``zhllama eval ppl`` and what each asks ``zhllama.load`` for.

Each name maps onto a ``zhllama.core.rope_scaling`` method, parametrised by ``plan`` for the
window length (no formula is repeated here):

- ``none``: plain RoPE, whatever the length;
- ``pi``: ``linear`` with factor L / trained length;
- ``ntk``: fixed NTK with the alpha ``plan`` picks for L;
- ``auto``: the family's adaptive NTK (transformers ``dynamic`` with factor 2 on plain checkpoints);
- ``yarn``: YaRN with factor L / trained length;
- ``dynamic``: transformers' dynamic NTK with factor L / trained length;
- ``dynamic_yarn``: YaRN whose factor follows the current length;
- ``selfextend``: grouped attention with the group and window ``plan`` picks for L;
  ``selfextend:G:W`` with group G and window W (refused where they break its validity rule).

Windows no longer than the trained length need no scaling: every method then loads plain RoPE.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.errors import ZhllamaError

EVAL_METHODS: dict[str, str | None] = {
    "none": None,
    "pi": "linear",
    "ntk": "ntk",
    "auto": "auto",
    "yarn": "yarn",
    "dynamic": "dynamic",
    "dynamic_yarn": "dynamic_yarn",
    "selfextend": "selfextend",
}
"""Evaluation name -> ``rope_scaling`` method name (None: no scaling)."""


GROUPED = "selfextend"


def grouped_name(group: int, window: int) -> str:
    """The evaluation name of grouped attention with ``group`` and ``window``: ``selfextend:G:W``."""
    return f"{GROUPED}:{group}:{window}"


def _split(name: str) -> tuple[str, dict[str, int]]:
    """``name`` as its ``EVAL_METHODS`` key and the parameters it fixes (``selfextend:G:W``)."""
    base, _, rest = name.partition(":")
    if base != GROUPED or not rest:
        return name, {}
    parts = rest.split(":")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ZhllamaError(
            f"evaluation method {name!r}: write grouped attention as {GROUPED}:GROUP:WINDOW, e.g. "
            f"{grouped_name(32, 128)}"
        )
    return base, {"group": int(parts[0]), "window": int(parts[1])}


def parse_methods(text: str | list[str]) -> list[str]:
    """``"none,pi,auto"`` (or a list) -> the names, checked against ``EVAL_METHODS``
    (``selfextend:G:W`` fixes grouped attention's group and window)."""
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not names:
        raise ZhllamaError(f"no methods given: use some of {', '.join(EVAL_METHODS)}")
    unknown = [name for name in names if _split(name)[0] not in EVAL_METHODS]
    if unknown:
        raise ZhllamaError(
            f"unknown evaluation method(s) {', '.join(map(repr, unknown))}: use some of "
            f"{', '.join(EVAL_METHODS)}, or {grouped_name(32, 128)} (comma-separated)"
        )
    return list(dict.fromkeys(names))


def parse_lengths(text: str | list[int]) -> list[int]:
    """``"256,512,1024"`` (or a list) -> sorted distinct window lengths, each an integer >= 2."""
    parts = [part.strip() for part in text.split(",")] if isinstance(text, str) else list(text)
    lengths = []
    for part in parts:
        if part == "":
            continue
        try:
            if isinstance(part, bool | float):
                raise ValueError
            length = int(part)
        except (TypeError, ValueError):
            raise ZhllamaError(
                f"window length {part!r} is not an integer: give token counts like 256,512,1024"
            ) from None
        if length < 2:
            raise ZhllamaError(f"window length {length} is too short: a window needs at least 2 tokens")
        lengths.append(length)
    if not lengths:
        raise ZhllamaError("no window lengths given: e.g. `lengths` 256,512,1024")
    return sorted(set(lengths))


def rope_request(method: str, config: Mapping[str, Any], length: int) -> dict[str, Any]:
    """The ``zhllama.load`` keywords (``context``, ``rope_method``, ``rope_params``) that evaluate
    ``method`` at ``length``.

    ``config`` is the checkpoint's config.json dict; ``{}`` means load it as shipped.
    """
    from zhllama.core.rope_scaling import describe

    parse_methods([method])
    base, params = _split(method)
    rope_method = EVAL_METHODS[base]
    if rope_method is None or length <= describe(config).trained_length:
        return {}
    request: dict[str, Any] = {"context": int(length), "rope_method": rope_method}
    if not params:
        return request
    import warnings

    from zhllama.core.rope_scaling import RopeReachWarning, plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)
        plan(config, int(length), rope_method, params)  # refuses a group and window that cannot serve L
    return request | {"rope_params": params}


def plan_choice(config: Mapping[str, Any], length: int) -> str:
    """The evaluation name of ``plan``'s method for ``length`` (``none`` within the trained length)."""
    import warnings

    from zhllama.core.rope_scaling import RopeReachWarning, describe, plan

    if length <= describe(config).trained_length:
        return "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)
        chosen = plan(config, int(length))
    names = {rope: name for name, rope in EVAL_METHODS.items() if rope is not None}
    name = names.get(chosen.method, chosen.method)
    attention = chosen.attention()
    return grouped_name(**attention) if name == GROUPED and attention else name
