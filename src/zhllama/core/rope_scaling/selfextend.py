"""Grouped attention in the style of SelfExtend (Jin et al. 2024, "LLM Maybe LongLM"): no new
frequencies, an attention change that keeps every relative position inside the trained range.

A query at position ``i`` sees a key at position ``j``:

- within the neighbour window (``i - j < window``) at their exact positions, as trained;
- farther away at grouped positions: the query at ``i // group + window - window // group``, the
  key at ``j // group`` (``grouped_query_position`` / ``grouped_key_position``), so the distance
  grows ``group`` times slower and starts at about ``window`` where the window ends.

The largest distance the model then sees, over a context of ``L`` tokens, is
``(L - 1) // group + window - window // group`` (``largest_distance``); the validity rule is that
it stays below the trained length. Past it the model meets distances it never saw and quality
collapses (measured: docs/long-context.md). The frequencies are the checkpoint's own: plain RoPE,
its PI factor (16K models) or its YaRN (64K models), so inside the trained length nothing changes
but the grouping. Running it needs zhllama's attention (``zhllama.patching.set_grouped_attention``
in transformers, zhllama's llama.cpp backend for GGUF files); the renderers say so.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import linear, llama_cpp_settings, yarn
from zhllama.core.rope_scaling.method import RopeMethod, RuntimeSettings, Shape, Target
from zhllama.errors import RopeScalingError

NAME = "selfextend"
WINDOW_SHARE = 2
"""The neighbour window ``choose`` picks: the trained length / ``WINDOW_SHARE`` (128 of 256)."""
GROUP_MARGIN = 2
"""``choose`` picks the smallest power-of-two group at least this many times larger than the
smallest valid one (measured on the tiny model: docs/long-context.md)."""


def grouped_query_position(position: Any, group: int, window: int) -> Any:
    """Where a query at ``position`` stands for the keys outside its window (ints or tensors)."""
    return position // group + window - window // group


def grouped_key_position(position: Any, group: int) -> Any:
    """Where a key at ``position`` stands for the queries it is outside the window of."""
    return position // group


def largest_distance(length: int, group: int, window: int) -> int:
    """The largest relative position a ``length``-token context shows the model."""
    return max(window - 1, grouped_query_position(length - 1, group, window) - grouped_key_position(0, group))


def reach_of(trained_length: int, group: int, window: int) -> int:
    """The longest context whose largest distance stays below ``trained_length``."""
    return group * (trained_length - window + window // group)


def check_group_window(group: Any, window: Any) -> tuple[int, int]:
    """``group`` and ``window`` as ints, or a ``RopeScalingError`` that names the bad one."""
    for name, value, least, meaning in (
        ("group", group, 2, "a group of 1 is plain RoPE"),
        ("window", window, 1, "the neighbour window holds at least the token itself"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise RopeScalingError(
                f"rope method {NAME!r}: `{name}` must be a whole number >= {least} ({meaning}), got {value!r}"
            )
    return group, window


def check_fits(trained_length: int, context: int, group: int, window: int) -> None:
    """The validity rule: every relative position of a ``context``-token window below ``trained_length``."""
    group, window = check_group_window(group, window)
    if window >= trained_length:
        raise RopeScalingError(
            f"rope method {NAME!r}: `window` {window} must be below the trained length {trained_length} "
            f"(inside the window positions are exact, so they must have been trained); e.g. `window` "
            f"{trained_length // WINDOW_SHARE}"
        )
    distance = largest_distance(context, group, window)
    if distance >= trained_length:
        smallest = smallest_group(trained_length, context, window)
        hint = f"use `group` >= {smallest}" if smallest else "use a smaller `window`"
        raise RopeScalingError(
            f"rope method {NAME!r}: `group` {group} with `window` {window} shows a {context}-token context "
            f"relative positions up to {distance}, beyond the {trained_length} the checkpoint was trained "
            f"on ((context - 1) // group + window - window // group must stay below it): {hint}, or a "
            f"shorter context (this pair reaches {reach_of(trained_length, group, window)} tokens)"
        )


def smallest_group(trained_length: int, context: int, window: int) -> int | None:
    """The smallest group that lets ``window`` serve ``context`` tokens (None when none does)."""
    if window >= trained_length:
        return None
    group = 2
    while largest_distance(context, group, window) >= trained_length:
        if group > context:
            return None
        group += 1
    return group


def _power_of_two_at_least(value: int) -> int:
    power = 2
    while power < value:
        power *= 2
    return power


def candidates(trained_length: int, context: int) -> list[dict[str, int]]:
    """The (group, window) pairs worth measuring for ``context`` tokens (``zhllama rope tune``):
    windows of a half and a quarter of the trained length, each with the smallest valid
    power-of-two group and the next two; all within the validity rule."""
    pairs = []
    for window in dict.fromkeys((trained_length // WINDOW_SHARE, trained_length // (2 * WINDOW_SHARE))):
        smallest = smallest_group(trained_length, context, window) if window >= 1 else None
        if smallest is None:
            continue
        first = _power_of_two_at_least(smallest)
        pairs += [{"group": first * step, "window": window} for step in (1, 2, 4)]
    return pairs


def own_params(target: Target) -> dict[str, Any]:
    """The checkpoint's own scaling, which grouped attention keeps."""
    ckpt = target.checkpoint
    return {
        "rope": ckpt.kind,
        "factor": ckpt.factor,
        "original_max_position_embeddings": ckpt.original_length if ckpt.kind == "yarn" else None,
    }


def choose(target: Target) -> dict[str, Any]:
    """The window (a requested one, else half the trained length) and a group fitted to it."""
    trained = target.checkpoint.trained_length
    window = target.requested.get("window")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window < trained:
        window = max(1, trained // WINDOW_SHARE)  # a bad requested window is refused by ``check``
    group = smallest_group(trained, target.context, window) or 2
    return {"group": _power_of_two_at_least(GROUP_MARGIN * group), "window": window, **own_params(target)}


def check(target: Target, params: Mapping[str, Any]) -> None:
    ckpt = target.checkpoint
    if params["rope"] != ckpt.kind:
        raise RopeScalingError(
            f"rope method {NAME!r} keeps the checkpoint's own RoPE ({ckpt.kind!r}), not {params['rope']!r}"
        )
    check_fits(ckpt.trained_length, target.context, params["group"], params["window"])


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    group, window = int(params["group"]), int(params["window"])
    return reach_of(target.checkpoint.trained_length, group, window), (
        f"group {group} and window {window} keep relative positions inside the trained length up to there"
    )


def _own(params: Mapping[str, Any]) -> tuple[RopeMethod, dict[str, Any]]:
    if params["rope"] == "yarn":
        return yarn.METHOD, yarn.METHOD.resolve(
            {
                "factor": params["factor"],
                "original_max_position_embeddings": params["original_max_position_embeddings"],
            }
        )
    return linear.METHOD, linear.METHOD.resolve({"factor": params["factor"]})


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    method, own = _own(params)
    return method.compute(own, shape, seq_len)


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    method, own = _own(params)
    return method.transformers(own, shape)


def attention(params: Mapping[str, Any]) -> dict[str, int]:
    return {"group": int(params["group"]), "window": int(params["window"])}


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    method, own = _own(params)
    rendered = method.llama_cpp(own, shape, target)
    kwargs = dict(rendered.settings["kwargs"]) | {"type_k": llama_cpp_settings.GGML_TYPE_F32}
    settings = llama_cpp_settings.settings(kwargs) | {"grouped_attention": attention(params)}
    return RuntimeSettings(
        settings,
        (
            *rendered.notes,
            "grouped attention runs in zhllama's llama.cpp backend (LlamaCppBackend, `--gguf`), which "
            "moves the cached keys' positions through llama-cpp-python's low-level API "
            "(llama_memory_seq_add) before every token, the prompt's too (one decode per token); "
            "llama.cpp's own binaries and llama-cpp-python's server cannot run it (their "
            "--grp-attn-n/--grp-attn-w is a different, block-wise approximation)",
            "type_k 0 (f32): the cached keys are re-rotated in place as their positions move; an f16 "
            "K cache would accumulate rounding",
        ),
    )


METHOD = RopeMethod(
    name=NAME,
    summary="grouped attention (SelfExtend): exact positions within a window, grouped beyond",
    compute=compute,
    params={
        "group": None,
        "window": None,
        "rope": "none",
        "factor": 1.0,
        "original_max_position_embeddings": None,
    },
    depends_on_seq_len=False,
    choose=choose,
    reach=reach,
    check=check,
    transformers=transformers,
    llama_cpp=to_llama_cpp,
    attention=attention,
    extra={
        "unsupported": {
            "vllm": "vLLM's attention backends keep one rotated key per cached token and have no "
            "distance-dependent choice between two rotations; its plugin API (general plugins, "
            "out-of-tree models) could register a model whose attention does it, but only with a "
            "custom attention kernel, which zhllama does not ship",
            "webui": "zhllama's webui extension applies a plan as config settings and a rebuilt rotary "
            "embedding; switching the attention forward there is not implemented",
        }
    },
)
