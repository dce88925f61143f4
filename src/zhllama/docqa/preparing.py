"""Turning files into what the store takes: chunk ids, texts, metadata, vectors and BM25 segments.

``prepare(path, ...)`` reads one file, cuts it (``splitting``), and yields ``Chunks`` batches of
``batch`` chunks, then ``Done`` (or ``Failed`` with the reason, after which any chunks it yielded
must be removed again). The chunks' BM25 terms go to a ``SegmentWriter`` as they are cut.

``Preparer`` runs that for a list of files, either in this process or, for a large ingest, in a
worker process: the store's writes (Chroma holds the interpreter lock while it writes) then run
on one core while the files are read, cut, embedded and indexed on the other. The two processes
take the files in order from one shared counter: whenever nothing from the worker is ready (while
it starts, and whenever the writes have caught up) this process prepares the next file itself if
it is small (``HELP_BYTES``). Each file's messages come in order, files in about the order given.
The worker's path also yields ``Idle`` whenever nothing more is ready or on its way (``_on_the_way``),
so that the store writes what it holds instead of waiting for a full batch.

How the worker starts (``_start_method``): on Linux, with the placeholder encoder, it is forked, and
is ready at once with the tokenizer this process loaded; a spawned worker (any other platform or
encoder) costs about 0.2 s of CPU and time before its first file (a fresh interpreter, numpy, the
tokenizer), which is all an ingest of a few hundred paragraphs takes. Forking a process that runs
Chroma's threads is safe here because the child never calls Chroma, holds no lock of them, and ends
with ``os._exit`` (multiprocessing's), so nothing of Chroma's is ever finalised there; it runs only
Python, numpy and SentencePiece. A semantic encoder may run torch or OpenMP, whose thread pools do
not survive a fork, so its worker is spawned. Either worker dies with this process (Linux's
``PR_SET_PDEATHSIG``) rather than prepare on for an ingest that is gone.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import multiprocessing
import os
import queue
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.docqa.dense import Encoder, HashedBigramEncoder, load_encoder
from zhllama.docqa.documents import Document, UnreadableFileError, load_document, read_file
from zhllama.docqa.lexical import Segment, SegmentWriter
from zhllama.docqa.normalisation import NORMALISATION_VERSION
from zhllama.docqa.splitting import Chunk, SplitSettings, TokenCounter, iter_chunks, token_counter
from zhllama.errors import DocQAError

WORKER_BYTES = 1024 * 1024
"""An ingest with more bytes to read than this prepares them in a spawned worker process (starting
one costs about 0.2 s of CPU, what preparing a few hundred KB of text takes)."""
FORKED_WORKER_BYTES = 64 * 1024
"""The same for a forked worker (see ``_start_method``), which costs a few milliseconds to start."""
HANDOFF_CHUNKS = 64
"""A worker hands its messages over in lists of about this many chunks."""
AHEAD_CHUNKS = 8192
"""How far (in chunks, about) a worker may run ahead of the store's writes before it waits: more
than Chroma's largest write (5,461), so that when the writes are what holds an ingest back, each
finds a whole write ready. With room for only 1,024, a writer that had just written found a few
hundred chunks, and wrote them (``Idle``) rather than wait: writes into a store of 900k chunks
averaged 1,766 chunks instead of 4,500, and each write pays Chroma's save of its vector index."""
FILE_BATCH_CHUNKS = 512
"""A file's chunks are handed on in batches of at most this many (a large file's in several)."""
HELP_BYTES = 64 * 1024
"""The largest file this process prepares itself while it waits for the worker (tens of
milliseconds of work: a larger one is left to the worker, so the writes are not held up)."""


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """Leave the objects this process already holds (modules, the tokenizer, Chroma's client) out of
    Python's cyclic garbage collection while the block runs: each full collection would rescan
    them all, and an ingest's churn of chunks triggers one every few hundred files (gc.freeze;
    DRCD: the writing process's collections cost 0.11-0.14 s of CPU, 0.06 s settled). The objects
    go back to the oldest generation after, unless someone else had frozen any (then they stay
    as they were: unfreezing would undo that)."""
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


@dataclass
class Chunks:
    """A batch of one file's chunks, ready to write."""

    path: Path
    ids: list[str]
    texts: list[str]
    metadatas: list[dict]
    vectors: Any
    reached: float = 1.0
    """How much of the file's text these chunks reach (0..1), for a progress display."""


@dataclass
class Done:
    """A file is complete: every chunk of it was in the ``Chunks`` batches before."""

    path: Path
    chunks: int


@dataclass
class Failed:
    """A file cannot be used; chunks of it yielded before must be removed again."""

    path: Path
    reason: str


@dataclass
class Idle:
    """Nothing more is ready yet (a worker is still preparing): a moment to write what is waiting."""


Message = Chunks | Done | Failed | Idle


def chunk_id(settings_key: str, source: str, file_hash: str, number: int) -> str:
    """The deterministic id of chunk ``number`` of ``source`` with content ``file_hash``: 24 hex
    digits of a hash of the file (with the settings and normalisation) and the number in 8, so a
    file's chunks sort together and in order. Chroma keeps its ids in a SQLite index: random ids
    land each at a random place of a tree that outgrows the page cache, a file's ids in one place
    (ids and vectors into a million-chunk store: 0.20 s per 1,000 chunks against 0.32-0.35 s)."""
    text = f"{settings_key};{NORMALISATION_VERSION}\0{source}\0{file_hash}"
    return f"{hashlib.sha256(text.encode()).hexdigest()[:24]}{number:08x}"


def hashed_chunk_id(settings_key: str, source: str, file_hash: str, number: int) -> str:
    """A chunk's id as ingests before ``chunk_id``'s numbered ids made it: stores keep those ids
    until their files change, and a window must still find such a chunk's neighbours."""
    text = f"{settings_key};{NORMALISATION_VERSION}\0{source}\0{file_hash}\0{number}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _chunks(document: Document, count_tokens: TokenCounter, settings: SplitSettings) -> Iterator[Chunk]:
    """A document's chunks in order; a PDF page by page, so that no chunk straddles two pages."""
    bounds = (
        [*document.page_starts, len(document.text) + 2] if document.page_starts else [0, len(document.text)]
    )
    for start, stop in itertools.pairwise(bounds):
        page_text = document.text[start : max(start, stop - 2 if document.page_starts else stop)]
        for c in iter_chunks(page_text, count_tokens, settings.chunk_tokens, settings.overlap_tokens):
            yield Chunk(c.text, c.start + start, c.end + start, c.tokens)


@dataclass
class _Batch:
    path: Path
    encoder: Encoder
    segments: SegmentWriter
    length: int
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)

    def add(self, chunk_id: str, text: str, metadata: dict) -> None:
        self.ids.append(chunk_id)
        self.texts.append(text)
        self.metadatas.append(metadata)

    def take(self) -> Chunks:
        vectors = self.encoder.encode_passages(self.texts)
        for chunk_id, text in zip(self.ids, self.texts, strict=True):
            self.segments.add(chunk_id, text)
        reached = self.metadatas[-1]["end"] / max(1, self.length)
        batch = Chunks(self.path, self.ids, self.texts, self.metadatas, vectors, reached)
        self.ids, self.texts, self.metadatas = [], [], []
        return batch


def prepare(
    path: Path,
    settings: SplitSettings,
    count_tokens: TokenCounter,
    encoder: Encoder,
    segments: SegmentWriter,
    max_bytes: int,
    batch: int = FILE_BATCH_CHUNKS,
) -> Iterator[Message]:
    """The messages of one file (see the module docstring)."""
    try:
        data = read_file(path, max_bytes)
        info = path.stat()
        file_hash = hashlib.sha256(data).hexdigest()
        document = load_document(path, data)
    except UnreadableFileError as exc:
        yield Failed(path, str(exc))
        return
    except OSError as exc:
        yield Failed(path, f"cannot read ({exc.strerror or exc})")
        return
    del data
    source = str(path)
    base = {
        "source": source,
        "file_sha256": file_hash,
        "settings": settings.key,
        "file_size": info.st_size,
        "file_mtime_ns": info.st_mtime_ns,
        "kind": document.kind,
    }
    if document.encoding:
        base["encoding"] = document.encoding
    pending = _Batch(path, encoder, segments, len(document.text))
    held: tuple[str, str, dict] | None = None  # one chunk back: the last one gets marked
    count = 0
    try:
        for n, chunk in enumerate(_chunks(document, count_tokens, settings)):
            if held is not None:
                pending.add(*held)
                if len(pending.ids) >= batch:
                    yield pending.take()
            meta = {**base, "chunk": n, "start": chunk.start, "end": chunk.end, "tokens": chunk.tokens}
            page = document.page_at(chunk.start)
            if page is not None:
                meta["page"] = page
            held = (chunk_id(settings.key, source, file_hash, n), chunk.text, meta)
            count = n + 1
    except Exception as exc:  # a text no splitter expected is this file's problem, not the ingest's
        yield Failed(path, f"cannot split its text ({type(exc).__name__}: {exc})")
        return
    if held is None:
        yield Failed(path, "no text in the file")
        return
    held[2]["last"] = True
    pending.add(*held)
    yield pending.take()
    yield Done(path, count)


@dataclass(frozen=True)
class _Job:
    """What a worker needs to prepare files as this process would (all of it picklable)."""

    settings: SplitSettings
    tokenizer: str
    encoder: str
    staging: str
    max_bytes: int
    batch: int


def _claim(following: Any, paths: list[str] | list[Path], at_most: int | None = None) -> int | None:
    """Take the number of the next file to prepare from the counter both processes share; ``None``
    when every file is taken, or when the next is larger than ``at_most`` bytes (it stays next)."""
    with following.get_lock():
        number = following.value
        if number >= len(paths):
            return None
        if at_most is not None:
            try:
                if Path(paths[number]).stat().st_size > at_most:
                    return None
            except OSError:
                pass  # preparing it says what is wrong
        following.value = number + 1
        return number


def _die_with_parent(parent: int) -> None:
    """End this worker when the ingest's process ends (killed, or interrupted mid-write), on Linux.
    Elsewhere a worker whose ingest was killed is left waiting to hand over what it prepared."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _work(
    job: _Job,
    paths: list[str],
    following: Any,
    results: Any,
    parent: int,
    tools: tuple[TokenCounter, Encoder] | None = None,
) -> None:
    """A worker process: prepare the files it claims from ``following`` and put their messages, in
    lists of about ``HANDOFF_CHUNKS`` chunks (not one hand-off per file), then the segment names.
    ``tools`` are the token counter and encoder of the process that forked this one; a spawned
    worker loads its own from ``job``."""
    try:
        _die_with_parent(parent)
        count_tokens, encoder = tools or (token_counter(job.tokenizer)[0], load_encoder(job.encoder))
        segments = SegmentWriter(folder=Path(job.staging), merge=True)  # it waits on the writes
        gc.freeze()  # this process ends with the ingest: what it loaded is never garbage (settled_heap)
        outgoing: list[Message] = []
        chunks = 0
        while (number := _claim(following, paths)) is not None:
            for message in prepare(
                Path(paths[number]), job.settings, count_tokens, encoder, segments, job.max_bytes, job.batch
            ):
                outgoing.append(message)
                chunks += len(message.ids) if isinstance(message, Chunks) else 0
                if chunks >= HANDOFF_CHUNKS:
                    results.put(outgoing)
                    outgoing, chunks = [], 0
        if outgoing:
            results.put(outgoing)
        results.put(("segments", [s.name for s in segments.finish()]))
    except BaseException as exc:  # everything reaches the parent, which raises it there
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _on_the_way(results: Any) -> bool:
    """Whether the worker has put hand-offs that have not all come out yet. An empty pipe does not
    mean an idle worker: its queue's thread writes a hand-off into the pipe (64 KiB, about one
    hand-off) only as the last one is read, so a writer that asked only the pipe found it empty
    after nearly every hand-off, and wrote a part of a write (``Idle``) where a whole one was ready.
    ``qsize`` counts what was put; it is not there on macOS, which asks only the pipe."""
    try:
        return results.qsize() > 0
    except NotImplementedError:
        return False


def _next_from(worker: Any, results: Any) -> Any:
    """The worker's next hand-off; a clear error, not a wait for ever, if the worker died without
    one (killed by the system for memory, or by a signal)."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if worker.exitcode is None:
                continue
        try:  # it ended: whatever it put before is in the pipe by now
            return results.get(timeout=1.0)
        except queue.Empty:
            raise DocQAError(
                f"the worker process preparing the files stopped (exit code {worker.exitcode}) before it "
                "finished, as if the ingest had been interrupted: run it again to finish (with "
                "ZHLLAMA_DOCQA_WORKER=0 to prepare the files in this process)"
            ) from None


class Preparer:
    """Prepares files for one ingest, in this process or in a worker (see the module docstring).

    ``messages(paths)`` yields every file's messages in order; ``segments()`` afterwards gives the
    BM25 segments of every chunk prepared (in ``staging``).
    """

    def __init__(
        self,
        settings: SplitSettings,
        count_tokens: TokenCounter,
        encoder: Encoder,
        staging: Path,
        max_bytes: int,
        batch: int = FILE_BATCH_CHUNKS,
    ) -> None:
        self.settings, self.count_tokens, self.encoder = settings, count_tokens, encoder
        self.staging, self.max_bytes, self.batch = staging, max_bytes, batch
        self._writer = SegmentWriter(folder=staging)
        self._worker_segments: list[str] = []

    def _start_method(self) -> str:
        """``fork`` on Linux when the worker runs only numpy and SentencePiece (the placeholder
        encoder), else ``spawn`` (see the module docstring)."""
        placeholder = isinstance(self.encoder, HashedBigramEncoder)
        return "fork" if sys.platform == "linux" and placeholder else "spawn"

    def _worker_job(self, paths: list[Path]) -> _Job | None:
        """The job for a worker when these files are worth one and the counter can be rebuilt there."""
        tokenizer = getattr(self.count_tokens, "path", None)
        if tokenizer is None or os.environ.get("ZHLLAMA_DOCQA_WORKER") == "0":
            return None
        size = 0
        for path in paths:
            with contextlib.suppress(OSError):
                size += path.stat().st_size
        if size < (FORKED_WORKER_BYTES if self._start_method() == "fork" else WORKER_BYTES):
            return None
        return _Job(
            self.settings, tokenizer, self.encoder.name, str(self.staging), self.max_bytes, self.batch
        )

    def _prepare(self, path: Path) -> Iterator[Message]:
        yield from prepare(
            path, self.settings, self.count_tokens, self.encoder, self._writer, self.max_bytes, self.batch
        )

    def messages(self, paths: list[Path]) -> Iterator[Message]:
        job = self._worker_job(paths)
        if job is None:
            for path in paths:
                yield from self._prepare(path)
            return
        method = self._start_method()
        context = multiprocessing.get_context(method)
        following = context.Value("q", 0)  # the number of the next file to prepare, in either process
        results = context.Queue(maxsize=AHEAD_CHUNKS // HANDOFF_CHUNKS)  # the worker waits when it is ahead
        tools = (self.count_tokens, self.encoder) if method == "fork" else None
        worker = context.Process(
            target=_work,
            args=(job, [str(p) for p in paths], following, results, os.getpid(), tools),
            daemon=True,
        )
        with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads: see the docstring
            warnings.filterwarnings("ignore", r".*use of fork\(\) may lead to deadlocks", DeprecationWarning)
            worker.start()
        try:
            while True:
                try:
                    message = _next_from(worker, results) if _on_the_way(results) else results.get_nowait()
                except queue.Empty:
                    yield Idle()
                    idle = results.empty() and not _on_the_way(results)
                    if idle and (number := _claim(following, paths, HELP_BYTES)) is not None:
                        yield from self._prepare(paths[number])
                        continue
                    message = _next_from(worker, results)
                if isinstance(message, tuple):
                    kind, value = message
                    if kind == "error":
                        raise DocQAError(f"preparing the files failed: {value}")
                    self._worker_segments = value
                    return
                yield from message
        finally:
            if worker.is_alive():
                worker.terminate()
            worker.join()

    def segments(self) -> list[Segment]:
        """The BM25 segments of every chunk prepared, written in ``staging``."""
        own = self._writer.finish()
        return own + [Segment.load(self.staging / name, None) for name in self._worker_segments]
