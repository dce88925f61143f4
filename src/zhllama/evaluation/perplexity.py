"""Perplexity of one window: the loss at every position, then over the whole window and its last slice.

Why a last slice: the whole-window perplexity of a longer window averages in many short-context
positions, so it is not comparable across lengths; the last ``last`` positions of every window are
the same number of predictions, each with a long context.

Contract: a window of L tokens gives L - 1 predictions (position i predicts token i + 1); "all" is
``exp(mean NLL)`` over every prediction of every window, "last" over the last ``last`` predictions
of every window (``last <= L - 1``). Logits are computed in ``chunk``-position slices in float32,
so a 16K window never materialises a 16K x vocabulary tensor.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zhllama.errors import ZhllamaError

DEFAULT_CHUNK = 1024


def window_nll(model: Any, window: Sequence[int], chunk: int = DEFAULT_CHUNK) -> Any:
    """Negative log-likelihood (float64 tensor of ``len(window) - 1``) of each next token of ``window``."""
    import torch

    if len(window) < 2:
        raise ZhllamaError(f"a window needs at least 2 tokens, got {len(window)}")
    device = next(model.parameters()).device
    ids = torch.tensor([list(window)], dtype=torch.long, device=device)
    with torch.no_grad():
        hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state[0, :-1]
        targets = ids[0, 1:]
        losses = []
        for start in range(0, hidden.shape[0], chunk):
            logits = model.lm_head(hidden[start : start + chunk]).float()
            losses.append(
                torch.nn.functional.cross_entropy(logits, targets[start : start + chunk], reduction="none")
            )
    return torch.cat(losses).double().cpu()


@dataclass(frozen=True)
class Perplexity:
    """Perplexity over whole windows (``all``) and over their last ``last`` predictions."""

    all: float
    last: float
    last_positions: int
    windows: int
    predictions: int


def perplexity(losses: Sequence[Any], last: int) -> Perplexity:
    """Aggregate per-window losses (as from ``window_nll``) into a ``Perplexity``.

    Every window must have at least ``last`` predictions; ``last`` must be positive.
    """
    if not losses:
        raise ZhllamaError("no windows to aggregate")
    if isinstance(last, bool) or int(last) < 1:
        raise ZhllamaError(f"the last slice must be a positive number of positions, got {last!r}")
    short = min(len(loss) for loss in losses)
    if short < last:
        raise ZhllamaError(
            f"the last slice ({last} positions) is longer than a window's {short} predictions: "
            f"use `last` {short} or longer windows"
        )
    total = sum(float(loss.sum()) for loss in losses)
    count = sum(len(loss) for loss in losses)
    tail = sum(float(loss[-last:].sum()) for loss in losses)
    return Perplexity(
        all=math.exp(total / count),
        last=math.exp(tail / (last * len(losses))),
        last_positions=int(last),
        windows=len(losses),
        predictions=count,
    )
