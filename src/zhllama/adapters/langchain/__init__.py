"""The LangChain adapter: the Alpaca-2 chat model, QA and summary runnables."""

from zhllama.adapters import Adapter
from zhllama.hookspecs import hookimpl

ADAPTER = Adapter(
    name="langchain",
    module="langchain_core",
    distribution="langchain-core",
    injects="availability report only (the integration is not built yet)",
    extra="langchain",
)


@hookimpl
def register_adapters(register) -> None:
    register(ADAPTER)
