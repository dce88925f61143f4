"""The vLLM adapter: the family's RoPE scaling (auto NTK, PI+NTK) as a vllm.general_plugins entry point."""

from zhllama.adapters import Adapter
from zhllama.hookspecs import hookimpl

ADAPTER = Adapter(
    name="vllm_rope",
    module="vllm",
    distribution="vllm",
    injects="availability report only (the integration is not built yet)",
    extra="vllm",
)


@hookimpl
def register_adapters(register) -> None:
    register(ADAPTER)
