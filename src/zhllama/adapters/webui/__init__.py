"""The text-generation-webui adapter: an extension for the Alpaca-2 prompt, sampling and long context.

``zhllama webui install WEBUI_DIR`` puts a shim ``script.py`` and the ``Chinese-Alpaca-2``
instruction template into the checkout (``installer``); the shim re-exports the hooks in
``extension``. This module stays light: it reports the adapter and imports nothing else.
"""

from zhllama.adapters import Adapter, adapter_hook, lazy_exports

ADAPTER = Adapter(
    name="webui",
    module="gradio",
    distribution="gradio",
    injects=(
        "webui extension (zhllama webui install): custom_generate_chat_prompt with the alpaca-2 template "
        "and history truncation, upstream sampling defaults (state_modifier), typed control tokens kept "
        "as text, RoPE long-context plan on Transformers loads, the Chinese-Alpaca-2 instruction template"
    ),
    extra="webui",
    install_hint="text-generation-webui is an application: `zhllama webui install WEBUI_DIR` (docs/webui.md)",
)


_LAZY = {
    "install": "zhllama.adapters.webui.installer",
    "uninstall": "zhllama.adapters.webui.installer",
    "WebuiInstallError": "zhllama.adapters.webui.installer",
    "build_prompt": "zhllama.adapters.webui.prompt",
    "default_params": "zhllama.adapters.webui.settings",
    "rope_plan_for_folder": "zhllama.adapters.webui.long_context",
    "apply_rope_plan": "zhllama.adapters.webui.long_context",
}
__all__ = ["ADAPTER", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)

register_adapters = adapter_hook(ADAPTER)
