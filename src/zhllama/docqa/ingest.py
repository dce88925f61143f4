"""Ingest files into a store: idempotent, resumable after a kill, safe with concurrent ingests.

The contract:

- every chunk id is a hash of (split settings, source path, file content hash, chunk number), so
  the same file content always yields the same ids and writes are upserts: re-running adds
  nothing, and a re-run after ``kill -9`` rewrites exactly what the uninterrupted run would have;
- a file is *unchanged* when its stored chunks carry its current content hash and settings and
  number ``n_chunks`` (so a file cut off mid-write by a kill is redone); a changed file gets its
  new chunks upserted first and its old ones deleted after, so it is never absent from the store;
- files that were ingested from a given folder (or the given file) and are gone now are deleted;
  a file that became unreadable or empty has its old chunks removed and is reported as skipped;
- every file is read on its own: one that cannot be read, parsed or split (a broken DOCX, a FIFO,
  a file over the size limit, a link out of the given folders: ``documents.discover``) is reported
  with its reason and skipped, and every other file is ingested;
- the whole ingest holds the store's writers' lock, marks the collection dirty before its first
  write and, when it is done, updates the BM25 index (the chunks it added as a new segment, those
  it deleted masked out) and then records the new generation.

``ingest(paths, store, ...)`` returns an ``IngestReport`` listing every file with its action
(added, updated, unchanged, deleted, skipped) and, for skipped files, the reason.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.docqa.dense import Encoder, HashedBigramEncoder
from zhllama.docqa.documents import (
    MAX_FILE_BYTES,
    Discovery,
    Document,
    UnreadableFileError,
    discover,
    display_path,
    load_document,
    read_file,
)
from zhllama.docqa.normalisation import NORMALISATION_VERSION
from zhllama.docqa.splitting import Chunk, SplitSettings, TokenCounter, split_text
from zhllama.docqa.store import Store, fingerprint
from zhllama.errors import DocQAError

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


def chunk_id(settings_key: str, source: str, file_hash: str, number: int) -> str:
    """The deterministic id of chunk ``number`` of ``source`` with content ``file_hash``."""
    text = f"{settings_key};{NORMALISATION_VERSION}\0{source}\0{file_hash}\0{number}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _under(source: str, roots: list[Path]) -> bool:
    return any(source == str(root) or source.startswith(str(root) + os.sep) for root in roots)


def _split(document: Document, count_tokens: TokenCounter, settings: SplitSettings) -> list[Chunk]:
    """Split a document; a PDF page by page, so that no chunk straddles two pages and each cites one."""
    bounds = (
        [*document.page_starts, len(document.text) + 2] if document.page_starts else [0, len(document.text)]
    )
    chunks = []
    for start, stop in itertools.pairwise(bounds):
        page_text = document.text[start : max(start, stop - 2 if document.page_starts else stop)]
        for c in split_text(page_text, count_tokens, settings.chunk_tokens, settings.overlap_tokens):
            chunks.append(Chunk(c.text, c.start + start, c.end + start, c.tokens))
    return chunks


def _read(
    path: Path, count_tokens: TokenCounter, settings: SplitSettings, max_bytes: int
) -> tuple[str, Document, list[Chunk]]:
    """``(content hash, document, chunks)`` of one file; ``UnreadableFileError`` with the reason why not."""
    data = read_file(path, max_bytes)
    file_hash = hashlib.sha256(data).hexdigest()
    document = load_document(path, data)
    try:
        return file_hash, document, _split(document, count_tokens, settings)
    except DocQAError:
        raise
    except Exception as exc:  # a text no splitter expected is this file's problem, not the ingest's
        raise UnreadableFileError(f"cannot split its text ({type(exc).__name__}: {exc})") from exc


def _file_hash(path: Path, max_bytes: int) -> str | None:
    """The content hash of a readable file, or None (then ``_read`` says why it is unreadable)."""
    try:
        return hashlib.sha256(read_file(path, max_bytes)).hexdigest()
    except UnreadableFileError:
        return None


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
    bar); ``follow_symlinks`` and ``max_bytes`` are ``discover``'s.
    """
    started = time.perf_counter()
    encoder = encoder or HashedBigramEncoder()
    roots = [Path(p).expanduser().resolve() for p in paths]
    found = discovered or discover(paths, follow_symlinks=follow_symlinks, max_bytes=max_bytes)
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    report = IngestReport()
    with store.lock():
        previous = store.generation
        store.claim_embedding(encoder.name)
        stored: dict[str, dict] = {}
        all_ids: set[str] = set()
        for chunk, _, meta in store.records():
            entry = stored.setdefault(meta.get("source", ""), {"ids": set(), "hashes": set(), "n": set()})
            entry["ids"].add(chunk)
            entry["hashes"].add((meta.get("file_sha256"), meta.get("settings")))
            entry["n"].add(meta.get("n_chunks"))
            all_ids.add(chunk)
        dirty = False
        pending: list[tuple[str, str, dict]] = []
        stale: list[str] = []
        added: list[str] = []
        deleted: list[str] = []

        def flush() -> None:
            nonlocal dirty
            if not pending and not stale:
                return
            if not dirty:
                store.mark_dirty()
                dirty = True
            if pending:
                vectors = encoder.encode_passages([text for _, text, _ in pending])
                store.upsert(
                    [i for i, _, _ in pending],
                    [t for _, t, _ in pending],
                    [m for _, _, m in pending],
                    vectors,
                )
                report.chunks_written += len(pending)
                added.extend(i for i, _, _ in pending)
            if stale:
                store.delete(list(stale))
                deleted.extend(stale)
            pending.clear()
            stale.clear()

        def record(path: Path, file_report: FileReport) -> None:
            report.files.append(file_report)
            if on_file is not None:
                on_file(path, file_report)

        def skip(path: Path, reason: str) -> None:
            """Report ``path`` as skipped; chunks it had from an earlier ingest are removed."""
            nonlocal all_ids
            old = stored.get(str(path))
            if old is not None:
                stale.extend(old["ids"])
                all_ids -= old["ids"]
                flush()
                reason = f"{reason} (its {len(old['ids'])} old chunks removed)"
            record(path, FileReport(display_path(path), "skipped", 0, reason))

        for path, reason in found.skipped:
            skip(path, reason)
        for path in found.files:
            source = str(path)
            old = stored.get(source)
            if old is not None and old["n"] == {len(old["ids"])} and len(old["hashes"]) == 1:
                ((old_hash, old_settings),) = old["hashes"]
                if old_settings == settings.key and _file_hash(path, max_bytes) == old_hash:
                    record(path, FileReport(source, "unchanged", len(old["ids"])))
                    continue
            try:
                file_hash, document, chunks = _read(path, count_tokens, settings, max_bytes)
            except UnreadableFileError as exc:
                skip(path, str(exc))
                continue
            ids = [chunk_id(settings.key, source, file_hash, n) for n in range(len(chunks))]
            for n, (cid, chunk) in enumerate(zip(ids, chunks, strict=True)):
                meta = {
                    "source": source,
                    "file_sha256": file_hash,
                    "settings": settings.key,
                    "chunk": n,
                    "n_chunks": len(chunks),
                    "start": chunk.start,
                    "end": chunk.end,
                    "tokens": chunk.tokens,
                    "kind": document.kind,
                }
                if document.encoding:
                    meta["encoding"] = document.encoding
                page = document.page_at(chunk.start)
                if page is not None:
                    meta["page"] = page
                pending.append((cid, chunk.text, meta))
            if old is not None:
                stale.extend(old["ids"] - set(ids))
                all_ids -= old["ids"]
            all_ids.update(ids)
            if len(pending) >= batch_chunks or pause:
                flush()
            record(path, FileReport(source, "added" if old is None else "updated", len(chunks)))
            if pause:
                time.sleep(pause)
        present = {str(p) for p in found.files} | {str(p) for p, _ in found.skipped}
        for source, entry in sorted(stored.items()):
            if source not in present and _under(source, roots):
                stale.extend(entry["ids"])
                all_ids -= entry["ids"]
                record(Path(source), FileReport(source, "deleted", len(entry["ids"])))
        flush()
        generation = fingerprint(all_ids)
        if dirty or store.generation != generation:
            # the index first: a reader that sees the new generation finds its index
            store.update_lexical(previous, added, deleted, generation)
            store.mark_clean(generation)
        else:
            store.lexical_index()
    report.seconds = time.perf_counter() - started
    return report
