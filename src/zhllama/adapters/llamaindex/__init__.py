"""The LlamaIndex adapter: an LLM with Alpaca-2 messages_to_prompt/completion_to_prompt."""

from zhllama.adapters import Adapter
from zhllama.hookspecs import hookimpl

ADAPTER = Adapter(
    name="llamaindex",
    module="llama_index.core",
    distribution="llama-index-core",
    injects="availability report only (the integration is not built yet)",
    extra="llamaindex",
)


@hookimpl
def register_adapters(register) -> None:
    register(ADAPTER)
