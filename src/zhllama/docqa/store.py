"""The chunk store: Chroma collections (embedded ``PersistentClient`` or a ``chroma run`` server):
the named one, then parts of it once it is full (``PART_CHUNKS``).

Chroma is the single source of truth: chunk text and citation metadata (both in the metadata, see
``RECORD_KEY``) and vectors live there and nowhere else. The BM25 index is *derived* from the chunks'
text and cached on local disk (``DB/lexical/`` for an embedded store, a per-server folder under
the user's cache for a server), tagged with the collection's ``generation``:

- an ingest marks the collection ``dirty-...`` before its first write and, when done, records a
  fingerprint of the set of chunk ids (ids are content hashes, so equal sets mean equal content);
- a reader uses the cached index whose tag equals the recorded generation (and, read from disk,
  whose size equals ``count()``); otherwise (a killed ingest, another writer, a new server) it
  rebuilds the index from the collection and publishes it with an atomic rename, so concurrent
  readers never see half an index and any number of processes agree on what is indexed.

``lock()`` serialises writers with a file lock (``DB/.ingest.lock``; for a server, a lock in the
local cache folder, which serialises the writers of one machine; writers on several machines mostly
stay correct because ids are deterministic and writes are upserts, but should be run one at a time:
two writing at once when a part fills could each put the same new chunk into a different part).

Chroma's default embedding function downloads an ONNX model: collections here are always opened
with ``embedding_function=None`` and every write and query passes vectors explicitly.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from zhllama.docqa.lexical import LexicalIndex, Segment, build_segments
from zhllama.errors import DocQAError

_T = TypeVar("_T")
DEFAULT_COLLECTION = "docqa"
_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,498}[a-zA-Z0-9]")
SCHEMA = "zhllama-docqa-1"
_META_EMBEDDING = "zhllama_embedding"
_META_GENERATION = "zhllama_generation"
_META_SCHEMA = "zhllama_schema"
_META_PARTS = "zhllama_parts"
_META_PART_OF = "zhllama_part_of"
_PART_SUFFIX = "--part-"
PART_CHUNKS = 100_000
"""A store's chunks live in Chroma collections of about this many at most: the named collection, then
``NAME--part-2``, ``NAME--part-3``, ... (the named one records how many, ``_META_PARTS``). A write
into a Chroma collection costs more per chunk the larger the collection (Chroma saves its whole map
of ids after every write, 83 MB at a million chunks, and its vector index deepens): 1,000 chunks
cost 0.30 s into an empty collection and 0.54 s into one of 900k, and stayed at 0.26-0.36 s all the
way to a million when every 100k went to a new collection of the same database, so a million-chunk
ingest costs ten times a 100k one. Reading every chunk is paged per part as well (``_READ_ALL_PAGE``)."""
_PAGE = 1000
_READ_ALL_PAGE = 10_000
"""``records`` reads this many chunks a call: Chroma answers a ``limit``/``offset`` page in time that
grows with the collection, not the page (2 s for 1,000 rows of a million-chunk store, 4.5 s for
10,000), so reading every chunk in pages of 1,000 took half an hour at a million chunks. Much more
than 10,000 exceeds SQLite's limit on query parameters."""
SOURCE_KEY = "source"
RECORD_KEY = "zhllama"
TEXT_KEY = "text"
"""A chunk is stored as two metadata values: its file (``SOURCE_KEY``, for a reader of the collection
and its parts with Chroma's own tools or a ``where`` filter) and everything else as one JSON string
(``RECORD_KEY``): its text (``TEXT_KEY``), place in the file, tokens, and the file's facts that tell
an ingest whether it changed. Chroma builds a full-text index (FTS5 trigrams) of every *document*,
which our own BM25 makes useless and which doubled the cost of a write, and it stores each metadata
key as a row with entries in SQLite indexes that outgrow its page cache as the collection grows:
a write of 1,000 chunks into a 100k-chunk store cost 0.76 s with every key apart (twelve), 0.69 s
with six and 0.40-0.50 s with these two. Stores written before (text as documents, or every key
apart) read the same."""


_HNSW_WRITES = {"sync_threshold": 100, "batch_size": 100}
"""Chroma keeps every write in its log until the vector index is next saved (``sync_threshold``
records, 1,000 by default) and each write re-reads that log, so writes of a few hundred chunks cost
3x more per chunk than writes of 1,000; saving every 100 records makes them cost the same, and
ingest can write as soon as chunks are ready."""


_WRITE_CHUNKS = 1000
"""An ingest writes 1,000 chunks at a time (or Chroma's largest batch, if smaller): Chroma saves its
vector index after each write of 100 records or more, a cost that grows with the collection, but a
part holds at most ``PART_CHUNKS``, and into a 100k part writes of 1,000 cost per chunk what writes
of 5,000 do (0.32 s per 1,000 both)."""


_HNSW_PLACEHOLDER = {"max_neighbors": 4, "ef_construction": 8}
"""The vector index of placeholder vectors (never searched): 4 neighbours a node, found with a
search of 8, against Chroma's 16 and 100; writing 100,000 vectors takes 11 s instead of 22."""
_DEFAULT_NEIGHBOURS = 16


def _configuration(semantic: bool) -> dict:
    """A new collection's configuration: cosine vectors, saved often, indexed cheaply unless
    ``semantic`` (a collection is made for a semantic encoder until one claims it otherwise)."""
    return {"hnsw": {"space": "cosine", **_HNSW_WRITES, **({} if semantic else _HNSW_PLACEHOLDER)}}


def _indexes_semantic_vectors(collection) -> bool:
    """Whether ``collection``'s vector index was made for a semantic encoder (Chroma's defaults)."""
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}
    return hnsw.get("max_neighbors", _DEFAULT_NEIGHBOURS) != _HNSW_PLACEHOLDER["max_neighbors"]


def _stored_metadata(text: str, metadata: dict) -> dict:
    """What Chroma stores for a chunk (see ``RECORD_KEY``).

    The JSON is pure ASCII (every other character as a ``\\uXXXX`` escape): embedded Chroma 1.5
    spends about 0.23 ms a kilobyte on metadata characters of three UTF-8 bytes (all of Chinese),
    and 0.07 ms a kilobyte on ASCII (1,344 values of 1,380 bytes: 0.41 ms each in Chinese,
    0.18-0.21 ms in ASCII, 0.18-0.26 ms for the same Chinese escaped, twice as long). A DRCD
    ingest went from 940-1,072 to 1,134-1,250 paragraphs/s. Any JSON reader gives back the same
    text; records written raw before read the same."""
    record = {key: value for key, value in metadata.items() if key != SOURCE_KEY}
    record[TEXT_KEY] = text
    return {SOURCE_KEY: metadata[SOURCE_KEY], RECORD_KEY: json.dumps(record, separators=(",", ":"))}


def _text_and_citation(document: str | None, metadata: dict | None) -> tuple[str, dict]:
    """A stored chunk's text and its metadata, unpacked, without the text."""
    metadata = dict(metadata or {})
    record = metadata.pop(RECORD_KEY, None)
    if record is not None:
        metadata.update(json.loads(record))
    text = metadata.pop(TEXT_KEY, None)
    return (document or "") if text is None else str(text), metadata


def fingerprint(ids: set[str] | list[str]) -> str:
    """The generation tag of a collection holding exactly ``ids``."""
    digest = hashlib.sha256()
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode())
        digest.update(b"\n")
    return "ids-" + digest.hexdigest()[:32]


_BUILDING = ".building-"


def _remove_abandoned_builds(root: Path) -> None:
    """Delete index folders half-written by processes that died (``.building-PID-...``)."""
    for folder in root.glob(f"{_BUILDING}*"):
        pid = folder.name.removeprefix(_BUILDING).split("-", 1)[0]
        try:
            os.kill(int(pid), 0)
            continue  # still building
        except (ValueError, ProcessLookupError):
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # another user's live process


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhllama" / "docqa"


@cache
def _part_readers() -> ThreadPoolExecutor:
    """The threads that read a store's parts at once (``Store._every_part``): one pool for the
    process, whose threads live as long as it does (a pool per store would end its threads whenever
    a store is dropped, at a moment no caller chooses)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="zhllama-store")


class StoreNotFoundError(DocQAError):
    """There is no docqa store where one was to be opened (``create=False``)."""


class StoreDamagedError(DocQAError):
    """Chroma failed on the store: its files are damaged, or the server failed or is incompatible."""


def check_collection_name(name: str) -> None:
    """Refuse a collection name Chroma would refuse, saying what it takes (Chroma's own error would
    reach the user as a damaged store)."""
    if not _COLLECTION_NAME.fullmatch(name) or ".." in name or _is_ip_address(name) or _PART_SUFFIX in name:
        raise DocQAError(
            f"{name!r} cannot name a collection: use 3-500 letters, digits, '.', '_' or '-', starting and "
            f"ending with a letter or digit, without '..' or '{_PART_SUFFIX}' (the store's own parts), and "
            "not an IP address (e.g. 'docqa' or 'my-notes')"
        )


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Store:
    """A docqa collection in an embedded Chroma folder (``db``) or on a Chroma server (``chroma_url``)."""

    def __init__(
        self,
        db: str | os.PathLike | None = None,
        chroma_url: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        create: bool = True,
    ) -> None:
        if (db is None) == (chroma_url is None):
            raise DocQAError(
                "give exactly one of `db` (the folder of an embedded store) or `chroma_url` (a Chroma server)"
            )
        check_collection_name(collection)
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        self.collection_name = collection
        if db is not None:
            self.db = Path(db).expanduser().resolve()
            if not create and not (self.db / "chroma").is_dir():
                raise StoreNotFoundError(
                    f"no docqa store at {str(self.db)!r}: ingest documents into it first "
                    "(zhllama.docqa.ingest.ingest, or `zhllama qa ingest PATH --db` on the command line)"
                )
            self.db.mkdir(parents=True, exist_ok=True)
            self.location = str(self.db)
            from filelock import FileLock

            # two processes creating one new store at once race on Chroma's schema: one at a time
            with FileLock(str(self.db / ".open.lock")), self._chroma("opening it"):
                try:
                    self.client = chromadb.PersistentClient(path=str(self.db / "chroma"), settings=settings)
                except ValueError as exc:  # Chroma allows one set of settings per folder and process
                    if "already exists" not in str(exc):
                        raise
                    raise DocQAError(
                        f"this process already has the Chroma folder {str(self.db / 'chroma')!r} open with "
                        "other settings (your own chromadb.PersistentClient?): open yours with "
                        "settings=chromadb.config.Settings(anonymized_telemetry=False), as docqa does, or "
                        "use the store's own client (`Store(...).client`)"
                    ) from exc
            self.cache_dir = self.db
        else:
            parsed = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
            if not parsed.hostname:
                raise DocQAError(f"`chroma_url` {chroma_url!r} is not a URL like http://host:8000")
            port = parsed.port or (443 if parsed.scheme == "https" else 8000)
            self.db = None
            self.location = f"{parsed.scheme}://{parsed.hostname}:{port}"
            try:
                self.client = chromadb.HttpClient(
                    host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings
                )
                self.client.heartbeat()
            except Exception as exc:  # chromadb raises plain ValueError/ConnectionError subclasses here
                raise DocQAError(f"cannot reach the Chroma server at {self.location}: {exc}") from exc
            key = hashlib.sha256(f"{self.location}\0{collection}".encode()).hexdigest()[:16]
            self.cache_dir = _cache_home() / key
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        if not create and collection not in self._collection_names():
            raise StoreNotFoundError(
                f"the store at {self.location} has no collection {collection!r}: ingest into it first, or "
                f"pick one of {', '.join(self._collection_names()) or '(none)'} with `collection`"
            )
        with self._chroma(f"opening collection {collection!r}"):
            self.collection = self.client.get_or_create_collection(
                collection,
                embedding_function=None,
                metadata={_META_SCHEMA: SCHEMA},
                configuration=_configuration(semantic=True),
            )
        self._parts = [self.collection]
        self._last_part_count: int | None = None  # chunks in the part written to, once counted
        self._lexical: LexicalIndex | None = None
        self.metadata()  # opens the parts

    @contextmanager
    def _chroma(self, doing: str) -> Iterator[None]:
        """Chroma's own exceptions (dozens of types, from SQLite, HNSW files and HTTP) as one
        ``StoreDamagedError`` that says what failed and how to rebuild."""
        try:
            yield
        except DocQAError:
            raise
        except Exception as exc:
            detail = f"{doing}: {type(exc).__name__}: {exc}"
            if self.db is None:
                raise StoreDamagedError(
                    f"the Chroma server at {self.location} failed ({detail}): check the server and its log; "
                    "to rebuild, ingest the documents again into a new `collection`"
                ) from exc
            raise StoreDamagedError(
                f"the docqa store at {self.location} cannot be read ({detail}); it looks damaged. Your "
                f"documents are untouched: move {self.location} away (or delete it) and ingest them again "
                "to rebuild it"
            ) from exc

    def _collection_names(self) -> list[str]:
        """The collections a user can name (not the stores' parts)."""
        with self._chroma("listing its collections"):
            names = (getattr(c, "name", c) for c in self.client.list_collections())
            return sorted(name for name in names if _PART_SUFFIX not in name)

    # --- parts ----------------------------------------------------------------------------------
    @property
    def parts(self) -> list:
        """The Chroma collections holding the store's chunks: the named one first (see ``PART_CHUNKS``)."""
        return list(self._parts)

    def _every_part(self, call: Callable[[Any], _T]) -> list[_T]:
        """``call(part)`` for every part, in order; at once when there are several, since Chroma
        answers without holding Python's lock (reading 20 chunks from ten 100k-chunk parts: 3.3 ms at
        once, 7 ms one after another)."""
        if len(self._parts) == 1:
            return [call(self._parts[0])]
        return list(_part_readers().map(call, self.parts))

    def _part_name(self, number: int) -> str:
        return self.collection_name if number == 1 else f"{self.collection_name}{_PART_SUFFIX}{number}"

    def _open_parts(self, recorded: int) -> None:
        with self._chroma("opening its parts"):
            self._parts = [self.collection] + [
                self.client.get_collection(self._part_name(number), embedding_function=None)
                for number in range(2, recorded + 1)
            ]
        self._last_part_count = None

    def _part_to_write(self) -> tuple[object, int]:
        """The part new chunks go to, and the room left in it: the last part, or a new one once it
        holds ``PART_CHUNKS``."""
        if self._last_part_count is None:
            self._last_part_count = self._parts[-1].count()
        if self._last_part_count >= PART_CHUNKS:
            number = len(self._parts) + 1
            part = self.client.get_or_create_collection(
                self._part_name(number),
                embedding_function=None,
                metadata={_META_SCHEMA: SCHEMA, _META_PART_OF: self.collection_name},
                configuration=_configuration(_indexes_semantic_vectors(self.collection)),
            )
            self._set_metadata(**{_META_PARTS: number})  # after the part exists, so readers find it
            self._parts.append(part)
            self._last_part_count = part.count()
        return self._parts[-1], PART_CHUNKS - self._last_part_count

    def _parts_holding(self, ids: list[str]) -> dict[str, int]:
        """``id -> number of the part holding it`` (from 0) for those of ``ids`` stored in any part;
        nothing to look up while the store has one part."""
        if len(self._parts) == 1 or not ids:
            return {}

        def held(part) -> list[str]:
            return [
                i
                for n in range(0, len(ids), _PAGE)
                for i in part.get(ids=ids[n : n + _PAGE], include=[])["ids"]
            ]

        return {chunk_id: number for number, found in enumerate(self._every_part(held)) for chunk_id in found}

    # --- collection metadata -------------------------------------------------------------------
    def metadata(self) -> dict:
        """The collection's metadata, read afresh. Every query and ingest starts here, so this is also
        where a ``Store`` opened before another one made the (empty) collection again (see
        ``claim_embedding``) takes up the new one."""
        with self._chroma("reading its metadata"):
            fresh = self.client.get_collection(self.collection_name, embedding_function=None)
        metadata = dict(fresh.metadata or {})
        recorded = int(metadata.get(_META_PARTS, 1))
        if fresh.id != self.collection.id or recorded != len(self._parts):
            self.collection = fresh
            self._open_parts(recorded)
        return metadata

    def _set_metadata(self, **values: str | int) -> None:
        metadata = self.metadata()
        metadata.update({k: v for k, v in values.items() if v is not None})
        with self._chroma("writing its metadata"):
            self.collection.modify(metadata=metadata)

    @property
    def embedding(self) -> str | None:
        """The encoder name the collection's vectors came from (None for a new, empty collection)."""
        return self.metadata().get(_META_EMBEDDING)

    def claim_embedding(self, name: str, semantic: bool = True) -> None:
        """Record ``name`` as the collection's encoder; refuse a different one than it already has.

        An empty collection's vector index is made again to suit the encoder first: a placeholder
        encoder's vectors are never searched, so their index is built as cheaply as Chroma allows
        (``_HNSW_PLACEHOLDER``), which halves the cost of writing a vector; a semantic encoder's gets
        Chroma's defaults."""
        recorded = self.embedding
        if recorded is None or self.count() == 0:
            self._index_vectors_for(semantic)
            self._set_metadata(**{_META_EMBEDDING: name})
        elif recorded != name:
            raise DocQAError(
                f"the store at {self.location} was built with embeddings {recorded!r}, not {name!r}: "
                "ingest with the same `embeddings`, or into a new `db` or `collection`"
            )

    def _index_vectors_for(self, semantic: bool) -> None:
        """Make the (empty) collection again when its vector index does not suit the encoder."""
        if _indexes_semantic_vectors(self.collection) == semantic:
            return
        metadata = {**self.metadata(), _META_PARTS: 1}
        with self._chroma("making its vector index again"):
            for number in range(len(self._parts), 1, -1):  # empty, like the named one
                self.client.delete_collection(self._part_name(number))
            self.client.delete_collection(self.collection_name)
            self.collection = self.client.create_collection(
                self.collection_name,
                embedding_function=None,
                metadata=metadata,
                configuration=_configuration(semantic),
            )
        self._open_parts(1)

    @cached_property
    def largest_write(self) -> int:
        """The most chunks Chroma takes in one write (5,461 for an embedded store)."""
        with self._chroma("asking its largest write"):
            return max(1, self.client.get_max_batch_size())

    @property
    def write_size(self) -> int:
        """How many chunks an ingest gathers for one write (see ``_WRITE_CHUNKS``)."""
        return min(self.largest_write, _WRITE_CHUNKS)

    @property
    def generation(self) -> str:
        return str(self.metadata().get(_META_GENERATION, ""))

    def mark_dirty(self) -> None:
        self._set_metadata(**{_META_GENERATION: f"dirty-{uuid.uuid4().hex}"})

    def mark_clean(self, generation: str) -> None:
        """Record that the collection holds exactly the chunks ``generation`` (a ``fingerprint``) names."""
        self._set_metadata(**{_META_GENERATION: generation})

    # --- records --------------------------------------------------------------------------------
    def count(self) -> int:
        self.metadata()  # takes up parts another process added
        with self._chroma("counting its chunks"):
            return sum(part.count() for part in self._parts)

    def records(self, include: tuple[str, ...] = ("metadatas",)) -> Iterator[tuple[str, str | None, dict]]:
        """Every ``(id, text or None, metadata)``, paged so a large collection streams: the text
        when ``include`` names ``"documents"``, the metadata when it names ``"metadatas"``."""
        wanted = {"documents", "metadatas"} if "documents" in include else set(include)
        for part in self.parts:
            offset = 0
            while True:
                with self._chroma("reading its chunks"):
                    page = part.get(include=sorted(wanted), limit=_READ_ALL_PAGE, offset=offset)
                    ids = page["ids"]
                    documents = page.get("documents") or [None] * len(ids)
                    metadatas = page.get("metadatas") or [None] * len(ids)
                    chunks = [_text_and_citation(d, m) for d, m in zip(documents, metadatas, strict=True)]
                if not ids:
                    break
                for chunk_id, (text, metadata) in zip(ids, chunks, strict=True):
                    yield chunk_id, text if "documents" in include else None, metadata
                offset += len(ids)

    def get(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        """``id -> (text, metadata)`` for the ids that exist."""

        def read(part) -> dict[str, tuple[str, dict]]:
            found = {}
            for i in range(0, len(ids), _PAGE):
                page = part.get(ids=ids[i : i + _PAGE], include=["documents", "metadatas"])
                rows = zip(page["ids"], page["documents"], page["metadatas"], strict=True)
                found.update({chunk_id: _text_and_citation(doc, meta) for chunk_id, doc, meta in rows})
            return found

        with self._chroma("reading chunks"):
            return {chunk_id: chunk for found in self._every_part(read) for chunk_id, chunk in found.items()}

    def upsert(
        self,
        ids: list[str],
        texts: list[str],
        metadatas: list[dict],
        embeddings,
        stored: Collection[str] | None = None,
    ) -> None:
        """Write chunks: their source and one JSON value with the rest, text included (``RECORD_KEY``).

        A chunk already stored is written again in its part, a new one into the last part (a new part
        once that is full). ``stored`` is a collection of the ids that may be stored already (an
        ingest knows them); without it each id is looked up in every part."""
        with self._chroma("writing chunks"):
            hnsw = (self.collection.configuration_json or {}).get("hnsw") or {}
            if hnsw.get("sync_threshold") != _HNSW_WRITES["sync_threshold"]:  # a store made before
                self.collection.modify(configuration={"hnsw": _HNSW_WRITES})
            vectors = np.asarray(embeddings, dtype=np.float32)
            records = [_stored_metadata(text, meta) for text, meta in zip(texts, metadatas, strict=True)]
            holding = self._parts_holding(ids if stored is None else [i for i in ids if i in stored])
            rewritten = [n for n, chunk_id in enumerate(ids) if chunk_id in holding]
            for number, part in enumerate(self._parts):
                self._write(part, [n for n in rewritten if holding[ids[n]] == number], ids, records, vectors)
            new = [n for n, chunk_id in enumerate(ids) if chunk_id not in holding]
            while new:
                part, room = self._part_to_write()
                taken, new = new[:room], new[room:]
                self._write(part, taken, ids, records, vectors)
                self._last_part_count = (self._last_part_count or 0) + len(taken)

    def _write(self, part, positions: list[int], ids: list[str], records: list[dict], vectors) -> None:
        """Upsert the chunks at ``positions`` into ``part``, Chroma's largest batch at a time."""
        for i in range(0, len(positions), self.largest_write):
            batch = positions[i : i + self.largest_write]
            part.upsert(
                ids=[ids[n] for n in batch], metadatas=[records[n] for n in batch], embeddings=vectors[batch]
            )

    def delete(self, ids: list[str]) -> None:
        with self._chroma("deleting chunks"):
            if len(self._parts) == 1:
                doomed = [ids]
            else:
                holding = self._parts_holding(ids)
                doomed = [[i for i in ids if holding.get(i) == number] for number in range(len(self._parts))]
            for part, its_ids in zip(self._parts, doomed, strict=False):
                for i in range(0, len(its_ids), _PAGE):
                    part.delete(ids=its_ids[i : i + _PAGE])
            self._last_part_count = None

    def query_vectors(self, vector, k: int) -> list[tuple[str, float]]:
        """Nearest chunks to ``vector`` as ``(id, cosine similarity)``, best first, from every part."""

        def search(part) -> list[tuple[float, str]]:
            n = min(k, part.count())
            if n <= 0:
                return []
            result = part.query(
                query_embeddings=[list(map(float, vector))], n_results=n, include=["distances"]
            )
            return [
                (1.0 - float(d), i) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)
            ]

        with self._chroma("searching its vectors"):
            found = [row for rows in self._every_part(search) for row in rows]
        return [(i, similarity) for similarity, i in sorted(found, reverse=True)[:k]]

    # --- writers' lock --------------------------------------------------------------------------
    @contextmanager
    def lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Hold the writers' lock; another ingest waits up to ``timeout`` seconds, then fails clearly."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.cache_dir / ".ingest.lock"))
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise DocQAError(
                f"another ingest into {self.location} has held the lock for {timeout:.0f}s; "
                "wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # --- the derived lexical index --------------------------------------------------------------
    @property
    def lexical_root(self) -> Path:
        return self.cache_dir / "lexical"

    def lexical_folder(self, analyser: str = "bigram") -> Path:
        """Where the BM25 index of ``analyser`` lives: segments shared by the generations' manifests."""
        return self.lexical_root / analyser

    def current_generation(self) -> str:
        """The generation the collection is in: recorded by the last clean ingest, else (a killed or
        running ingest) the fingerprint of the chunk ids it holds now."""
        generation = self.generation
        if generation.startswith("dirty-") or not generation:
            generation = fingerprint([i for i, _, _ in self.records(include=())])
        return generation

    def lexical_index(self, analyser: str = "bigram") -> LexicalIndex:
        """The BM25 index matching the collection now: cached in memory or on disk, else rebuilt.

        An index held in memory whose generation the collection still records as clean is current
        as it is (every writer marks the collection dirty first), so a query costs no count of a
        million rows; an index read from disk must also hold ``count()`` chunks."""
        recorded = self.generation
        cached = self._lexical
        if recorded and cached is not None and (cached.analyser, cached.generation) == (analyser, recorded):
            return cached
        generation, count = self.current_generation(), self.count()
        if cached is not None and (cached.analyser, cached.generation, len(cached)) == (
            analyser,
            generation,
            count,
        ):
            return cached
        index = self._saved_lexical(analyser, generation, count)
        if index is None:
            index = self.rebuild_lexical(analyser, generation)
        self._lexical = index
        return index

    def _saved_lexical(self, analyser: str, generation: str, count: int) -> LexicalIndex | None:
        """The index saved for ``generation`` when it is whole and holds ``count`` chunks, else None."""
        try:
            index = LexicalIndex.load(self.lexical_folder(analyser), generation)
        except Exception:  # none saved, or damaged in any way: the caller rebuilds
            return None
        return index if len(index) == count else None

    def rebuild_lexical(self, analyser: str = "bigram", generation: str | None = None) -> LexicalIndex:
        """Build the BM25 index from the collection's documents, streaming, and save it."""
        generation = generation or self.current_generation()
        chunks = (
            (chunk_id, document or "") for chunk_id, document, _ in self.records(include=("documents",))
        )
        folder = self.lexical_folder(analyser)
        with self.lexical_staging(analyser) as staging:
            added = build_segments(chunks, analyser, staging)
            return self._publish(
                LexicalIndex([], analyser, generation).with_changes(added, (), generation, folder)
            )

    @contextmanager
    def lexical_staging(self, analyser: str = "bigram") -> Iterator[Path]:
        """A folder of this process beside the index where new segments wait until an index that
        names them is published (no other process's clean-up touches it); removed afterwards."""
        folder = self.lexical_folder(analyser)
        folder.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_builds(folder)
        staging = Path(tempfile.mkdtemp(prefix=f"{_BUILDING}{os.getpid()}-", dir=folder))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def update_lexical(
        self,
        previous: str,
        added: list[Segment],
        deleted: list[str],
        generation: str,
        analyser: str = "bigram",
    ) -> LexicalIndex:
        """The index of ``generation``: the saved index of ``previous`` with ``deleted`` chunks removed
        and the ``added`` segments (built from the chunks an ingest wrote) appended; a full rebuild
        from the collection when no index of ``previous`` is saved whole (a killed ingest, another
        writer) and the store held chunks before. The one ingest that holds the writers' lock calls
        it before it records ``generation``."""
        try:
            base = LexicalIndex.load(self.lexical_folder(analyser), previous)
        except Exception:  # none saved, or damaged in any way
            if previous:
                return self.rebuild_lexical(analyser, generation)
            base = LexicalIndex([], analyser, previous)  # a new store: nothing to rebuild
        folder = self.lexical_folder(analyser)
        return self._publish(base.with_changes(added, deleted, generation, folder))

    def _publish(self, index: LexicalIndex) -> LexicalIndex:
        folder = self.lexical_folder(index.analyser)
        folder.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_builds(folder)
        for old in self.lexical_root.glob(f"{index.analyser}-*"):  # the layout before segments
            shutil.rmtree(old, ignore_errors=True)
        index.save(folder)
        self._lexical = index
        return index
