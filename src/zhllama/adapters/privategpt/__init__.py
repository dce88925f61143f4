"""The privateGPT adapter: an Alpaca-2 prompt style, settings profiles and a launcher for privateGPT.

privateGPT is an application, not a library (not on PyPI), so zhllama reaches it three ways:
``prompt_style`` (its prompt-style contract, rendering Alpaca-2 exactly), ``profile``
(``zhllama privategpt profile``: ``settings-zhllama.yaml`` for the ``openailike`` and ``llamacpp``
routes, v0.6.x or v1.x schema) and ``launcher`` (``zhllama privategpt run DIR``: installs the style, the
RoPE plan and, on v1, an LLM mode before privateGPT builds its components). This module stays light:
nothing here imports privateGPT or LlamaIndex.
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="privategpt",
    module="private_gpt",
    distribution="private-gpt",
    injects=(
        "Alpaca-2 prompt style (privateGPT's _messages_to_prompt/_completion_to_prompt, exact text); "
        "settings-zhllama.yaml profiles (openailike against a server applying our chat template, llamacpp "
        "with our style); launcher that patches v0.6.x's get_prompt_style (+ RoPE plan into LlamaCPP) or "
        "registers in v1.x's prompt-style and LLM registries"
    ),
    extra="privategpt",
    install_hint="privateGPT is an application: check it out, then `zhllama privategpt run DIR`",
)


_LAZY = {
    "AlpacaPromptStyle": "zhllama.adapters.privategpt.prompt_style",
    "prompt_style_class": "zhllama.adapters.privategpt.prompt_style",
    "profile_settings": "zhllama.adapters.privategpt.profile",
    "write_profile": "zhllama.adapters.privategpt.profile",
    "PrivateGPTError": "zhllama.adapters.privategpt.profile",
    "detect_version": "zhllama.adapters.privategpt.launcher",
    "run": "zhllama.adapters.privategpt.launcher",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
