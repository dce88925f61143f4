"""What a store holds of each source file, cached per generation: ``catalogue(store)``.

An ingest must know, for every file it finds, whether the store holds that file's chunks whole
(``StoredFile.unchanged``). Reading that from Chroma means reading the metadata of every chunk: a few
seconds for 10,000 files, minutes for a million chunks. So the catalogue (per source: chunk ids,
content hash, split settings, size, modification time, last chunk) is derived like the BM25 index:
saved on local disk beside it (``DB/catalogue/<generation>.json``) by the ingest that recorded the
generation, and trusted only while the collection is in that generation and holds as many chunks
as it lists. Otherwise (a killed ingest, another writer, a removal, another machine on the same
server) it is read again from the collection's metadata. Chunk ids are content hashes and the
generation is a fingerprint of them, so a catalogue of the same generation lists the same chunks;
what it could get wrong is only a file's size or time when another writer upserted the same content
with other ones, and then the file's content hash decides, as it does for any changed time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.docqa.documents import UnreadableFileError, read_file
from zhllama.docqa.splitting import SplitSettings
from zhllama.docqa.store import Store

FORMAT = "zhllama-catalogue-1"


@dataclass
class StoredFile:
    """What the store holds of one source file."""

    ids: set[str] = field(default_factory=set)
    versions: set[tuple] = field(default_factory=set)  # (sha256, settings, size, mtime_ns)
    last: int | None = None

    def add(self, chunk_id: str, meta: dict) -> None:
        """Count chunk ``chunk_id`` with its Chroma metadata ``meta``."""
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

    def unchanged(self, path: Path, info: os.stat_result, settings: SplitSettings, max_bytes: int) -> bool:
        """True when the stored chunks are this file's (whose ``stat`` is ``info``), cut with
        ``settings``: by its size and modification time when they agree, else by its content hash."""
        if not self.complete:
            return False
        ((sha256, stored_settings, size, mtime_ns),) = self.versions
        if stored_settings != settings.key:
            return False
        if (info.st_size, info.st_mtime_ns) == (size, mtime_ns):
            return True
        try:
            return hashlib.sha256(read_file(path, max_bytes)).hexdigest() == sha256
        except UnreadableFileError:
            return False


def _folder(store: Store) -> Path:
    return store.cache_dir / "catalogue"


def catalogue(store: Store) -> dict[str, StoredFile]:
    """``source -> StoredFile`` for every file the store holds: the saved catalogue of the store's
    generation when it is whole, else read from every chunk's metadata."""
    saved = _load(store)
    if saved is not None:
        return saved
    files: dict[str, StoredFile] = {}
    for chunk_id, _, meta in store.records():
        files.setdefault(str(meta.get("source", "")), StoredFile()).add(chunk_id, meta)
    return files


def ingested_files(store: Store) -> list[dict]:
    """Every ingested file: ``{"path", "sha256", "chunks"}``, sorted by path (from the catalogue)."""
    return [
        {"path": source, "sha256": ",".join(sorted(str(v[0]) for v in f.versions)), "chunks": len(f.ids)}
        for source, f in sorted(catalogue(store).items())
    ]


def _load(store: Store) -> dict[str, StoredFile] | None:
    generation = store.generation
    if not generation or generation.startswith("dirty-"):
        return None
    try:
        data = json.loads((_folder(store) / f"{generation}.json").read_text(encoding="utf-8"))
        if data["format"] != FORMAT or data["generation"] != generation:
            return None
        files = {
            source: StoredFile(set(ids), {tuple(v) for v in versions}, last)
            for source, (ids, versions, last) in data["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError):  # none saved, or damaged: read the store
        return None
    return files if sum(len(f.ids) for f in files.values()) == store.count() else None


def save_catalogue(store: Store, generation: str, files: dict[str, StoredFile]) -> None:
    """Save ``files`` as the catalogue of ``generation`` (atomically) and drop older ones. The
    caller holds the writers' lock and has written exactly the chunks ``files`` lists."""
    folder = _folder(store)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT,
        "generation": generation,
        "files": {
            source: [sorted(f.ids), sorted(f.versions, key=repr), f.last] for source, f in files.items()
        },
    }
    tmp = folder / f".{generation}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, folder / f"{generation}.json")
    for old in folder.iterdir():
        if old.name != f"{generation}.json":
            with contextlib.suppress(OSError):
                old.unlink()
