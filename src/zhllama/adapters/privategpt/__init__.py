"""The privateGPT adapter: an Alpaca-2 prompt style and settings profiles for privateGPT."""

from zhllama.adapters import Adapter
from zhllama.hookspecs import hookimpl

ADAPTER = Adapter(
    name="privategpt",
    module="private_gpt",
    distribution="private-gpt",
    injects="availability report only (the integration is not built yet)",
    extra="privategpt",
)


@hookimpl
def register_adapters(register) -> None:
    register(ADAPTER)
