"""The LangChain adapter: ``ChatZhllama`` (the Alpaca-2 chat model on any zhllama backend, with
structured output and tools by constrained decoding), the document pieces over the docqa store
(``DocQARetriever``, ``DocQAEmbeddings``, ``DocQALoader``, ``join_documents``) and LCEL runnables for QA
and summaries with upstream's Chinese prompts.

This module is the adapter's plugin and stays light: the names below import LangChain on first access
(``from zhllama.adapters.langchain import ChatZhllama``).
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="langchain",
    module="langchain_core",
    distribution="langchain-core",
    injects=(
        "ChatZhllama chat model (Alpaca-2 template on transformers, llama.cpp or an OpenAI-compatible "
        "server; upstream sampling, stops, streaming, async, usage, token counts with the model's "
        "tokenizer; with_structured_output and bind_tools by constrained decoding); DocQARetriever, "
        "DocQAEmbeddings and DocQALoader over the docqa store and loaders; qa_chain and summarize_chain "
        "runnables (stuff/refine/map_reduce, upstream Chinese prompts)"
    ),
    extra="langchain",
)

_LAZY = {
    "ChatZhllama": "zhllama.adapters.langchain.chat_model",
    "qa_chain": "zhllama.adapters.langchain.chains",
    "summarize_chain": "zhllama.adapters.langchain.chains",
    "ask": "zhllama.adapters.langchain.chains",
    "DocQARetriever": "zhllama.adapters.langchain.retrieval",
    "DocQAEmbeddings": "zhllama.adapters.langchain.retrieval",
    "join_documents": "zhllama.adapters.langchain.retrieval",
    "DocQALoader": "zhllama.adapters.langchain.document_loader",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
