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

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.docqa.dense import Encoder, HashedBigramEncoder
from zhllama.docqa.documents import (
    MAX_FILE_BYTES,
    Discovery,
    UnreadableFileError,
    discover,
    display_path,
    read_file,
)
from zhllama.docqa.preparing import Chunks, Failed, Preparer
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


def _under(source: str, roots: list[Path]) -> bool:
    return any(source == str(root) or source.startswith(str(root) + os.sep) for root in roots)


@dataclass
class _Stored:
    """What the store holds of one source file."""

    ids: set[str] = field(default_factory=set)
    versions: set[tuple] = field(default_factory=set)  # (sha256, settings, size, mtime_ns)
    last: int | None = None

    def add(self, chunk_id: str, meta: dict) -> None:
        self.ids.add(chunk_id)
        key = (
            meta.get("file_sha256"),
            meta.get("settings"),
            meta.get("file_size"),
            meta.get("file_mtime_ns"),
        )
        self.versions.add(key)
        if meta.get("last"):
            self.last = int(meta.get("chunk", -1))

    @property
    def complete(self) -> bool:
        return len(self.versions) == 1 and self.last is not None and len(self.ids) == self.last + 1

    def unchanged(self, path: Path, settings: SplitSettings, max_bytes: int) -> bool:
        """True when the stored chunks are this file's, cut with ``settings``: by its size and
        modification time when they agree, else by its content hash."""
        if not self.complete:
            return False
        ((sha256, stored_settings, size, mtime_ns),) = self.versions
        if stored_settings != settings.key:
            return False
        try:
            info = path.stat()
        except OSError:
            return False
        if (info.st_size, info.st_mtime_ns) == (size, mtime_ns):
            return True
        try:
            return hashlib.sha256(read_file(path, max_bytes)).hexdigest() == sha256
        except UnreadableFileError:
            return False


def ingest(
    paths: list[str | os.PathLike],
    store: Store,
    count_tokens: TokenCounter,
    settings: SplitSettings,
    encoder: Encoder | None = None,
    on_file: Callable[[Path, FileReport], None] | None = None,
    batch_chunks: int = 512,
    *,
    follow_symlinks: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    discovered: Discovery | None = None,
) -> IngestReport:
    """Bring ``store`` in line with the files under ``paths``; see the module docstring for the contract.

    ``discovered`` is ``discover(paths, ...)`` when the caller has it already (e.g. to size a progress
    bar); ``follow_symlinks`` and ``max_bytes`` are ``discover``'s. ``on_file(path, report)`` is told
    each file's outcome as it happens.
    """
    started = time.perf_counter()
    encoder = encoder or HashedBigramEncoder()
    roots = [Path(p).expanduser().resolve() for p in paths]
    found = discovered or discover(paths, follow_symlinks=follow_symlinks, max_bytes=max_bytes)
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    report = IngestReport()
    with store.lock(), store.lexical_staging() as staging:
        previous = store.generation
        store.claim_embedding(encoder.name)
        stored: dict[str, _Stored] = {}
        all_ids: set[str] = set()
        for chunk, _, meta in store.records():
            stored.setdefault(str(meta.get("source", "")), _Stored()).add(chunk, meta)
            all_ids.add(chunk)
        dirty = False
        deleted: list[str] = []
        written: dict[str, list[str]] = {}  # chunk ids of the file being received

        def mark_dirty() -> None:
            nonlocal dirty
            if not dirty:
                store.mark_dirty()
                dirty = True

        def remove(ids: Iterable[str]) -> None:
            nonlocal all_ids
            ids = set(ids)
            if ids:
                mark_dirty()
                store.delete(sorted(ids))
                deleted.extend(ids)
                all_ids -= ids

        def record(path: Path, file_report: FileReport) -> None:
            report.files.append(file_report)
            if on_file is not None:
                on_file(path, file_report)

        def skip(path: Path, reason: str) -> None:
            """Report ``path`` as skipped; chunks it had from an earlier ingest (or from this one,
            before it failed) are removed."""
            old = stored.get(str(path))
            remove(set(written.pop(str(path), [])) | (old.ids if old is not None else set()))
            if old is not None:
                reason = f"{reason} (its {len(old.ids)} old chunks removed)"
            record(path, FileReport(display_path(path), "skipped", 0, reason))

        for path, reason in found.skipped:
            skip(path, reason)
        to_read = []
        for path in found.files:
            old = stored.get(str(path))
            if old is not None and old.unchanged(path, settings, max_bytes):
                record(path, FileReport(str(path), "unchanged", len(old.ids)))
            else:
                to_read.append(path)
        preparer = Preparer(settings, count_tokens, encoder, staging, max_bytes, batch_chunks)
        for message in preparer.messages(to_read):
            source = str(message.path)
            if isinstance(message, Chunks):
                mark_dirty()
                store.upsert(message.ids, message.texts, message.metadatas, message.vectors)
                report.chunks_written += len(message.ids)
                written.setdefault(source, []).extend(message.ids)
            elif isinstance(message, Failed):
                skip(message.path, message.reason)
            else:
                ids = written.pop(source, [])
                old = stored.get(source)
                if old is not None:
                    remove(old.ids - set(ids))  # the new chunks are in: the old ones go
                all_ids.update(ids)
                record(message.path, FileReport(source, "added" if old is None else "updated", len(ids)))
            if pause and not isinstance(message, Chunks):
                time.sleep(pause)
        present = {str(p) for p in found.files} | {str(p) for p, _ in found.skipped}
        for source, entry in sorted(stored.items()):
            if source not in present and _under(source, roots):
                remove(entry.ids)
                record(Path(source), FileReport(source, "deleted", len(entry.ids)))
        generation = fingerprint(all_ids)
        if dirty or store.generation != generation:
            # the index first: a reader that sees the new generation finds its index
            store.update_lexical(previous, preparer.segments(), deleted, generation)
            store.mark_clean(generation)
        else:
            store.lexical_index()
    report.seconds = time.perf_counter() - started
    return report
