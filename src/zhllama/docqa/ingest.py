"""Ingest files into a store: idempotent, resumable after a kill, safe with concurrent ingests.

The contract:

- every chunk id is a hash of (split settings, source path, file content hash, chunk number), so
  the same file content always yields the same ids and writes are upserts: re-running adds
  nothing, and a re-run after ``kill -9`` rewrites exactly what the uninterrupted run would have;
- a file is *unchanged* when its stored chunks carry its current content hash and settings and are
  complete (its last chunk is marked, and every chunk up to it is there: a file cut off mid-write by
  a kill is redone); its size and modification time are stored too, so an unchanged file whose
  stat agrees is not even read; a changed file gets its new chunks upserted first and its old ones
  deleted after, so it is never absent from the store;
- files that were ingested from a given folder (or the given file) and are gone now are deleted;
  a file that became unreadable or empty has its old chunks removed and is reported as skipped;
- every file is read on its own: one that cannot be read, parsed or split (a broken DOCX, a FIFO,
  a file over the size limit, a link out of the given folders: ``documents.discover``) is reported
  with its reason and skipped, and every other file is ingested; a file's chunks stream to the store
  in batches as they are cut, so a large file takes bounded memory;
- the whole ingest holds the store's writers' lock, marks the collection dirty before its first
  write and, when it is done, updates the BM25 index (the chunks it added as a new segment, those
  it deleted masked out) and then records the new generation.

``ingest(paths, store, ...)`` returns an ``IngestReport`` listing every file with its action
(added, updated, unchanged, deleted, skipped) and, for skipped files, the reason. Files are read
and cut by ``preparing.Preparer`` (in a worker process for large ingests, so that the store's writes
overlap the reading); this module keeps the store in line with what it prepares.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zhllama.docqa.catalogue import StoredFile, catalogue, save_catalogue
from zhllama.docqa.dense import Encoder, HashedBigramEncoder
from zhllama.docqa.documents import (
    MAX_FILE_BYTES,
    Discovery,
    discover,
    display_path,
)
from zhllama.docqa.preparing import FILE_BATCH_CHUNKS, Chunks, Failed, Idle, Preparer, settled_heap
from zhllama.docqa.splitting import SplitSettings, TokenCounter
from zhllama.docqa.store import Store, fingerprint

ACTIONS = ("added", "updated", "unchanged", "deleted", "skipped")
PAUSE_ENV = "ZHLLAMA_DOCQA_PAUSE_AFTER_FILE"  # test hook: flush and sleep this many seconds per file


@dataclass(frozen=True)
class FileReport:
    """What ingest did with one file; ``reason`` says why a file was skipped."""

    path: str
    action: str
    chunks: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0

    def count(self, action: str) -> int:
        return sum(1 for f in self.files if f.action == action)

    def summary(self) -> dict[str, int]:
        return {action: self.count(action) for action in ACTIONS}


@dataclass
class IngestProgress:
    """How far an ingest is: files finished (of every file found), bytes of the files that must be
    read (unchanged files are not) and chunks written so far."""

    files_total: int
    bytes_total: int
    files_done: int = 0
    bytes_done: int = 0
    chunks: int = 0


def _under(source: str, roots: list[Path]) -> bool:
    return any(source == str(root) or source.startswith(str(root) + os.sep) for root in roots)


class _Writes:
    """Chunks waiting to be written: Chroma pays a commit per write, so chunks of many small files go
    in one write."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict] = []
        self._vectors: list[np.ndarray] = []
        self.reached: tuple[Path, float] | None = None  # the file being read and how far

    def add(self, chunks: Chunks) -> None:
        self.ids += chunks.ids
        self.texts += chunks.texts
        self.metadatas += chunks.metadatas
        self._vectors.append(np.asarray(chunks.vectors, dtype=np.float32))
        self.reached = (chunks.path, chunks.reached)

    def vectors(self) -> np.ndarray:
        return np.concatenate(self._vectors)


def ingest(
    paths: list[str | os.PathLike],
    store: Store,
    count_tokens: TokenCounter,
    settings: SplitSettings,
    encoder: Encoder | None = None,
    on_file: Callable[[Path, FileReport], None] | None = None,
    batch_chunks: int | None = None,
    *,
    on_progress: Callable[[IngestProgress], None] | None = None,
    follow_symlinks: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    discovered: Discovery | None = None,
) -> IngestReport:
    """Bring ``store`` in line with the files under ``paths``; see the module docstring for the contract.

    ``discovered`` is ``discover(paths, ...)`` when the caller has it already (e.g. to check the
    paths before it opens a store); ``follow_symlinks`` and ``max_bytes`` are ``discover``'s.
    ``on_file(path, report)`` is told each file's outcome as it happens, ``on_progress`` the
    ``IngestProgress`` after every file and every batch of chunks. Chunks are written
    ``batch_chunks`` at a time, by default ``Store.write_size``.
    """
    started = time.perf_counter()
    encoder = encoder or HashedBigramEncoder()
    roots = [Path(p).expanduser().resolve() for p in paths]
    found = discovered or discover(paths, follow_symlinks=follow_symlinks, max_bytes=max_bytes)
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    report = IngestReport()
    with store.lock(), store.lexical_staging() as staging, settled_heap():
        previous = store.generation
        store.claim_embedding(encoder.name, encoder.semantic)
        stored = catalogue(store)  # kept equal to what the collection holds, file by file
        write_size = batch_chunks or store.write_size

        fresh: dict[str, StoredFile] = {}  # chunks written (or waiting) of files not finished yet
        dirty = False
        deleted: list[str] = []

        def mark_dirty() -> None:
            nonlocal dirty
            if not dirty:
                store.mark_dirty()
                dirty = True

        def remove(ids: set[str]) -> None:
            if ids:
                mark_dirty()
                store.delete(sorted(ids))
                deleted.extend(ids)

        def record(path: Path, file_report: FileReport) -> None:
            nonlocal finished_bytes
            report.files.append(file_report)
            if on_file is not None:
                on_file(path, file_report)
            if file_report.action != "deleted":  # a file gone is not one of those found
                progress.files_done += 1
                finished_bytes += sizes.pop(path, 0)
                show_progress()

        def show_progress(reading: Path | None = None, reached: float = 0.0) -> None:
            """Tell ``on_progress``; ``reached`` is the share of the file being read already done."""
            partial = sizes.get(reading, 0) * reached if reading is not None else 0
            progress.bytes_done, progress.chunks = int(finished_bytes + partial), report.chunks_written
            if on_progress is not None:
                on_progress(progress)

        def skip(path: Path, reason: str) -> None:
            """Report ``path`` as skipped; chunks it had from an earlier ingest (or from this one,
            before it failed) are removed."""
            old, partial = stored.pop(str(path), None), fresh.pop(str(path), None)
            remove((old.ids if old is not None else set()) | (partial.ids if partial is not None else set()))
            if old is not None:
                reason = f"{reason} (its {len(old.ids)} old chunks removed)"
            record(path, FileReport(display_path(path), "skipped", 0, reason))

        to_read = []
        unchanged = []
        for path in found.files:
            old = stored.get(str(path))
            if old is not None and old.unchanged(path, found.stats[path], settings, max_bytes):
                unchanged.append((path, FileReport(str(path), "unchanged", len(old.ids))))
            else:
                to_read.append(path)
        sizes = {path: found.stats[path].st_size for path in to_read}
        finished_bytes = 0
        progress = IngestProgress(len(found.files) + len(found.skipped), sum(sizes.values()))
        for path, reason in found.skipped:
            skip(path, reason)
        for path, file_report in unchanged:
            record(path, file_report)
        preparer = Preparer(
            settings, count_tokens, encoder, staging, max_bytes, batch_chunks or FILE_BATCH_CHUNKS
        )
        writes = _Writes()
        finished: list[Path] = []  # files whose last chunks wait in ``writes``

        def flush() -> None:
            """Write the chunks waiting, then finish the files they complete: their old chunks go
            (one delete for all of them) and they are reported."""
            if writes.ids:
                mark_dirty()
                sources = {meta["source"] for meta in writes.metadatas}
                known = set().union(*(stored[s].ids for s in sources if s in stored))  # may be rewritten
                store.upsert(writes.ids, writes.texts, writes.metadatas, writes.vectors(), stored=known)
                report.chunks_written += len(writes.ids)
            reached = writes.reached
            writes.clear()
            done = [(path, stored.get(str(path)), fresh.pop(str(path))) for path in finished]
            finished.clear()
            remove(set().union(*(old.ids - new.ids for _, old, new in done if old is not None)))
            for path, old, new in done:
                stored[str(path)] = new
                record(path, FileReport(str(path), "added" if old is None else "updated", len(new.ids)))
            if reached is not None:
                show_progress(*reached)

        for message in preparer.messages(to_read):
            if isinstance(message, Chunks):
                writes.add(message)
                receiving = fresh.setdefault(str(message.path), StoredFile())
                for chunk_id, meta in zip(message.ids, message.metadatas, strict=True):
                    receiving.add(chunk_id, meta)
            elif isinstance(message, Idle):  # write what is ready rather than wait for a full batch
                if len(writes.ids) >= write_size // 4:
                    flush()
                continue
            elif isinstance(message, Failed):
                flush()  # its chunks written so far are removed with its old ones
                skip(message.path, message.reason)
            else:
                finished.append(message.path)
            if len(writes.ids) >= write_size or (pause and not isinstance(message, Chunks)):
                flush()
            if pause and not isinstance(message, Chunks):
                time.sleep(pause)
        flush()
        present = {str(p) for p in found.files} | {str(p) for p, _ in found.skipped}
        for source in sorted(stored):
            if source not in present and _under(source, roots):
                gone = stored.pop(source)
                remove(gone.ids)
                record(Path(source), FileReport(source, "deleted", len(gone.ids)))
        generation = fingerprint(set().union(*(f.ids for f in stored.values())))
        if dirty or store.generation != generation:
            # the index first: a reader that sees the new generation finds its index
            store.update_lexical(previous, preparer.segments(), deleted, generation)
            save_catalogue(store, generation, stored)
            store.mark_clean(generation)
        else:
            store.lexical_index()
            save_catalogue(store, generation, stored)
    report.seconds = time.perf_counter() - started
    return report
