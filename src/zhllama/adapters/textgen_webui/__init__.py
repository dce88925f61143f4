"""The text-generation-webui adapter: an extension for the Alpaca-2 prompt, sampling and long context."""

from zhllama.adapters import Adapter
from zhllama.hookspecs import hookimpl

ADAPTER = Adapter(
    name="textgen_webui",
    module="gradio",
    distribution="gradio",
    injects="availability report only (the integration is not built yet)",
    extra="webui",
)


@hookimpl
def register_adapters(register) -> None:
    register(ADAPTER)
