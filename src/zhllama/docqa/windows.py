"""Neighbour-aware ranking: a chunk is ranked by the BM25 score of its *window*, the chunk together
with the chunks before and after it in its file, plus ``OWN_WEIGHT`` times the chunk's own score.

Why: a chunk is a few hundred tokens cut at sentence ends, so the words a question shares with a
passage are often split between a chunk and its neighbour, or lie around the chunk that matches
best (a name in one chunk, the fact asked about in the next). Scored alone, such a chunk loses to
one elsewhere that happens to repeat a few of the question's words. The window counts the words
of the surrounding text too, while the hit stays the chunk (its citation, its place in the
passage). Of three neighbouring chunks that share the window's words, the one that holds most of
them itself is the likelier answer, so a quarter of the chunk's own score is added. Measured on
the CMRC trial and DRCD test questions, with the own-score weight, BM25's k1, b and idf power and
the question-word weight (``lexical``, ``question_words``) chosen for this ranking on the first
halves, it lifts MRR@10 on the other halves above whole-paragraph BM25 on both sets, where chunks
scored alone fell below it (docs/docqa.md, Benchmark).

A window is scored from the BM25 index alone (``LexicalIndex.score_groups``: the chunks' term
counts and lengths summed, so the sentences two chunks share count twice, which measured about as
well as the exact text of the window): no text is read again. Neighbours are found by their ids, which are
deterministic (``preparing.chunk_id``: settings, file, content hash, chunk number; an older
store's hashed ids too), so a chunk's
metadata names its neighbours without a query to the store; a neighbour the index does not hold
(before the first chunk, after the last) counts for nothing.
"""

from __future__ import annotations

from zhllama.docqa.lexical import LexicalIndex
from zhllama.docqa.preparing import chunk_id as make_chunk_id
from zhllama.docqa.preparing import hashed_chunk_id

OWN_WEIGHT = 0.25
"""How much of a chunk's own BM25 score is added to its window's."""


def window(chunk_id: str, metadata: dict) -> list[str]:
    """The ids of the window of chunk ``chunk_id``: itself and the chunks before and after it in its
    file; only itself when its metadata does not say how its id was made."""
    try:
        settings, source = str(metadata["settings"]), str(metadata["source"])
        file_hash, number = str(metadata["file_sha256"]), int(metadata["chunk"])
    except (KeyError, TypeError, ValueError):
        return [chunk_id]
    made = (
        make_chunk_id if chunk_id == make_chunk_id(settings, source, file_hash, number) else hashed_chunk_id
    )
    neighbours = [made(settings, source, file_hash, n) for n in (number - 1, number + 1) if n >= 0]
    return [chunk_id, *neighbours]


def window_scores(index: LexicalIndex, question: str, chunks: dict[str, dict]) -> dict[str, float]:
    """The ranking score for ``question`` of each chunk in ``chunks`` (id -> metadata): its window's
    BM25 score plus ``OWN_WEIGHT`` times its own."""
    ids = list(chunks)
    scores = index.score_groups(question, [window(i, chunks[i]) for i in ids] + [[i] for i in ids])
    windows, own = scores[: len(ids)], scores[len(ids) :]
    return {i: w + OWN_WEIGHT * o for i, w, o in zip(ids, windows, own, strict=True)}
