"""The privateGPT adapter: an Alpaca-2 prompt style, settings profiles and a launcher for privateGPT.

privateGPT is an application, not a library (not on PyPI), so zhllama reaches it three ways:
``profile`` (``zhllama privategpt profile``: ``settings-zhllama.yaml`` for the checkout's release line:
0.6.x talks to an OpenAI-compatible server applying the Alpaca-2 template, 1.x to such a server or to
an in-process GGUF), ``prompt_style`` (1.x's prompt-style contract, rendering Alpaca-2 exactly) and
``launcher`` (``zhllama privategpt run DIR``: registers the style and the llama.cpp mode in 1.x before
it builds its components). This module stays light: nothing here imports privateGPT or LlamaIndex.
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="privategpt",
    module="private_gpt",
    distribution="private-gpt",
    injects=(
        "settings-zhllama.yaml profiles per release line (0.6.x: openailike against a server applying our "
        "chat template; 1.x: that, or the in-process llamacpp mode) with upstream sampling; launcher that "
        "registers the Alpaca-2 prompt style and the zhllama-llamacpp LLM mode in 1.x's registries"
    ),
    extra="privategpt",
    install_hint="privateGPT is an application: `zhllama privategpt profile --out DIR` (docs/privategpt.md)",
)


_LAZY = {
    "prompt_style_class": "zhllama.adapters.privategpt.prompt_style",
    "profile_settings": "zhllama.adapters.privategpt.profile",
    "write_profile": "zhllama.adapters.privategpt.profile",
    "PrivateGPTError": "zhllama.adapters.privategpt.profile",
    "detect_version": "zhllama.adapters.privategpt.profile",
    "run": "zhllama.adapters.privategpt.launcher",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
