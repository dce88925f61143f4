"""How much retrieved text a model can take: ``context_budget(config or usable_length)``.

The retrieval budget follows the model's *usable* length from the RoPE plan (``describe(config)
["usable_length"]``: 4K for the base models, 16K for the PI models, 64K for the YaRN ones, more
when adaptive NTK stretches them), not a fixed ``k=1``. From it we keep ``reserve_tokens`` for
the prompt template, the question and the answer (upstream's ``max_new_tokens`` is 512) and give
the rest to retrieved chunks; ``k`` is how many chunks of ``chunk_tokens`` fit, capped at
``max_k`` (beyond a few dozen chunks BM25's tail is noise and reading time grows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zhllama.docqa.splitting import DEFAULT_CHUNK_TOKENS
from zhllama.errors import DocQAError

DEFAULT_RESERVE_TOKENS = 512 + 256  # the answer (max_new_tokens) + template, system prompt, question
DEFAULT_MAX_K = 64


def answer_tokens(max_new_tokens: int, context_window: int) -> int:
    """How much of a window an answer may take: ``max_new_tokens``, but never more than a quarter of the
    window (at least 16), so that a short context still leaves room for the prompt and documents."""
    return min(max_new_tokens, max(16, context_window // 4))


def usable_length(model: Mapping[str, Any] | int) -> int:
    """The usable context of a config.json dict (through the RoPE planner) or an explicit length."""
    if isinstance(model, Mapping):
        from zhllama.core.rope_scaling import describe

        return int(describe(model).usable_length)
    if isinstance(model, bool) or not isinstance(model, int) or model <= 0:
        raise DocQAError(f"expected a model config dict or a positive context length, got {model!r}")
    return model


def context_budget(
    model: Mapping[str, Any] | int,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    reserve_tokens: int = DEFAULT_RESERVE_TOKENS,
    max_k: int = DEFAULT_MAX_K,
) -> tuple[int, int]:
    """``(k, max_context_tokens)``: chunks to retrieve and the tokens of retrieved text to pack.

    ``max_context_tokens = usable_length - reserve_tokens``; ``k = max_context_tokens //
    chunk_tokens`` within ``[1, max_k]``. A model too short for the reserve plus one chunk is
    an error that says how long it is.
    """
    length = usable_length(model)
    room = length - reserve_tokens
    if room < chunk_tokens:
        raise DocQAError(
            f"a {length}-token context leaves {room} tokens after the {reserve_tokens}-token reserve for the "
            f"prompt and answer, less than one {chunk_tokens}-token chunk: "
            "use a longer-context model or smaller chunks"
        )
    return max(1, min(max_k, room // chunk_tokens)), room
