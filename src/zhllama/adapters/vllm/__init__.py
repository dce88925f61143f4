"""The vLLM adapter: the family's RoPE scaling, chat template and tokenizer settings in vLLM.

- ``plugin``: the ``vllm.general_plugins`` entry point ``zhllama_rope``; it wraps vLLM's
  ``get_rope`` so the rope types ``zhllama_dynamic_auto`` (auto NTK, with the checkpoint's PI),
  ``zhllama_dynamic_ntk`` and ``zhllama_dynamic_yarn`` build correct rotary tables;
- ``rotary``: those rotary embeddings, computed by zhllama's core;
- ``serving``: ``serve_settings(model_dir, context)``, the ``vllm serve`` flags and
  ``vllm.LLM`` kwargs (``zhllama vllm args``).

This package module stays light (zhllama's plugin loading imports it): ``plugin`` and
``rotary`` import vLLM and torch and are loaded only by vLLM.
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports
from zhllama.core.rope_scaling.vllm_settings import CUSTOM_ROPE_TYPES

ENTRY_POINT = "zhllama_rope"
"""The name of zhllama's entry point in vLLM's ``vllm.general_plugins`` group (``VLLM_PLUGINS``)."""

ADAPTER = Adapter(
    name="vllm",
    module="vllm",
    distribution="vllm",
    injects=(
        f"vllm.general_plugins entry point {ENTRY_POINT!r} wrapping get_rope with the rope types "
        f"{', '.join(sorted(CUSTOM_ROPE_TYPES.values()))}; `zhllama vllm args` prints the serve flags "
        "(hf_overrides, max_model_len, chat template, tokenizer, sampling defaults)"
    ),
    extra="vllm",
)


_LAZY = {
    "ServeSettings": "zhllama.adapters.vllm.serving",
    "serve_settings": "zhllama.adapters.vllm.serving",
    "llm_kwargs": "zhllama.adapters.vllm.serving",
}
__all__ = ["ADAPTER", "ENTRY_POINT", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
