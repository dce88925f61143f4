"""The LangChain adapter: ``ChatZhllama`` (the Alpaca-2 chat model on any zhllama backend) and
LCEL runnables for QA and summaries with upstream's Chinese prompts.

This module is the adapter's plugin and stays light: ``ChatZhllama``, ``qa_chain``,
``summarize_chain`` and ``ask`` import LangChain on first access (``from
zhllama.adapters.langchain import ChatZhllama``).
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="langchain",
    module="langchain_core",
    distribution="langchain-core",
    injects=(
        "ChatZhllama chat model (Alpaca-2 template on transformers, llama.cpp or an OpenAI-compatible "
        "server; upstream sampling, stops, streaming, token counts with the model's tokenizer); "
        "qa_chain and summarize_chain runnables (stuff/refine/map_reduce, upstream Chinese prompts)"
    ),
    extra="langchain",
)

_LAZY = {
    "ChatZhllama": "zhllama.adapters.langchain.chat_model",
    "qa_chain": "zhllama.adapters.langchain.chains",
    "summarize_chain": "zhllama.adapters.langchain.chains",
    "ask": "zhllama.adapters.langchain.chains",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
