"""The LlamaIndex adapter: ``ZhllamaLLM`` (Chinese-Alpaca-2 on any zhllama backend, exact prompts) and a
query engine over the Chroma collection ``zhllama qa ingest`` builds, with upstream's Chinese prompts.

This module is the adapter's plugin and stays light: the names below import LlamaIndex on first access
(``from zhllama.adapters.llamaindex import ZhllamaLLM``).

- ``prompts``: ``messages_to_prompt`` / ``completion_to_prompt`` rendering Alpaca-2 byte for byte, and the
  upstream QA / refine prompts as LlamaIndex ``PromptTemplate``s;
- ``llm``: ``ZhllamaLLM``, a ``CustomLLM`` over ``zhllama.backends`` (prompts go in as safe token ids);
- ``retrieval``: ``DocQARetriever`` (docqa's BM25 / hybrid ranking as a ``BaseRetriever``),
  ``DocQAEmbedding`` (a docqa encoder as a LlamaIndex embedding model) and ``chroma_vector_retriever``
  (plain ``ChromaVectorStore`` retrieval over the same collection);
- ``reader``: ``DocQAReader``, files read as ``zhllama qa ingest`` reads them (GBK/Big5/UTF-16, HTML,
  PDF, DOCX);
- ``query_engine``: ``docqa_query_engine`` (a ``RetrieverQueryEngine`` with the upstream prompts).
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="llamaindex",
    module="llama_index.core",
    distribution="llama-index-core",
    injects=(
        "ZhllamaLLM (Alpaca-2 messages_to_prompt/completion_to_prompt byte for byte, prompt as safe ids on "
        "transformers, llama.cpp or an OpenAI-compatible server; context window from the RoPE plan; "
        "streaming, non-blocking async, usage; structured_predict by constrained decoding); "
        "docqa_query_engine over the `zhllama qa ingest` Chroma collection (docqa's BM25/hybrid "
        "retriever, upstream Chinese QA and refine prompts); DocQAEmbedding, DocQAReader, "
        "chroma_vector_retriever"
    ),
    extra="llamaindex",
)

_LAZY = {
    "ZhllamaLLM": "zhllama.adapters.llamaindex.llm",
    "messages_to_prompt": "zhllama.adapters.llamaindex.prompts",
    "completion_to_prompt": "zhllama.adapters.llamaindex.prompts",
    "to_zhllama_messages": "zhllama.adapters.llamaindex.prompts",
    "TEXT_QA_TEMPLATE": "zhllama.adapters.llamaindex.prompts",
    "REFINE_TEMPLATE": "zhllama.adapters.llamaindex.prompts",
    "STUFF_QA_TEMPLATE": "zhllama.adapters.llamaindex.prompts",
    "DocQARetriever": "zhllama.adapters.llamaindex.retrieval",
    "DocQAEmbedding": "zhllama.adapters.llamaindex.retrieval",
    "chroma_vector_retriever": "zhllama.adapters.llamaindex.retrieval",
    "DocQAReader": "zhllama.adapters.llamaindex.reader",
    "docqa_query_engine": "zhllama.adapters.llamaindex.query_engine",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
