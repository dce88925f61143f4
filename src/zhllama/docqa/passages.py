"""Distinct passages from chunk hits: ``merge_adjacent(hits)`` joins overlapping chunks of one file.

Chunks overlap (each starts with the last sentences of the one before), so a question whose
evidence lies around a chunk boundary retrieves both chunks: two hits that repeat the same
sentences to the model and push other files down the list. Here hits of one file (and one PDF
page) whose spans overlap or touch become one passage: its span runs from the first chunk's start
to the last one's end, its text is exactly the document's text over that span (stitched from the
chunks), its ``chunks`` how many it joins, and its scores, ``chunk_id`` and ``chunk`` are those of
its best chunk, so the ranking of passages is the ranking of their best chunks. A passage holds at
most ``max_chunks`` chunks: many matching chunks in a long document (a novel) give several passages,
never one whole file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhllama.docqa.retrieval import Hit

MAX_PASSAGE_CHUNKS = 3


def merge_adjacent(hits: list[Hit], max_chunks: int = MAX_PASSAGE_CHUNKS) -> list[Hit]:
    """``hits`` as distinct passages, best first (equal scores by chunk id), ranks renumbered."""
    groups: dict[tuple[str, int | None], list[Hit]] = {}
    for hit in hits:
        groups.setdefault((hit.source, hit.page), []).append(hit)
    passages = []
    for group in groups.values():
        group.sort(key=lambda h: (h.start, h.end))
        run = [group[0]]
        for hit in group[1:]:
            if hit.start <= max(h.end for h in run) and len(run) < max_chunks:
                run.append(hit)
            else:
                passages.append(_joined(run))
                run = [hit]
        passages.append(_joined(run))
    passages.sort(key=lambda h: (-h.score, h.chunk_id))
    return [replace(passage, rank=rank) for rank, passage in enumerate(passages, 1)]


def _joined(run: list[Hit]) -> Hit:
    """One hit spanning the overlapping or touching hits ``run`` (sorted by start)."""
    best = min(run, key=lambda h: (-h.score, h.chunk_id))
    text, end = run[0].text, run[0].end
    for hit in run[1:]:
        if hit.end > end:
            text += hit.text[end - hit.start :]
            end = hit.end
    return replace(best, text=text, start=run[0].start, end=end, chunks=sum(h.chunks for h in run))
