"""The extension's controls in webui's UI: one gradio component per user-facing param.

Each control writes its value into ``params`` on change; the hooks read ``params`` on every
call, so the next message uses it. Only plain components (Radio, Textbox, Number, Checkbox) are
used: they behave alike in webui's pinned gradio 4.37 and in gradio 5/6.
"""

from collections.abc import Callable, MutableMapping
from typing import Any

from zhllama.adapters.webui.settings import SYSTEM_PROMPT_CHOICES


def setter(params: MutableMapping[str, Any], key: str, convert: Callable[[Any], Any] = lambda v: v):
    """A change handler that stores the component's value as ``params[key]``."""

    def set_param(value: Any) -> None:
        params[key] = convert(value)

    set_param.__name__ = f"set_{key}"
    return set_param


def build_ui(params: MutableMapping[str, Any]) -> dict[str, Any]:
    """Create the controls inside the current gradio context; return them by param name."""
    import gradio as gr

    controls: dict[str, Any] = {}
    with gr.Accordion("zhllama: Chinese-Alpaca-2 prompt, sampling and long context", open=True):
        controls["system_prompt"] = gr.Radio(
            choices=list(SYSTEM_PROMPT_CHOICES),
            value=params["system_prompt"],
            label="System prompt (used when webui's own system message is empty)",
        )
        controls["custom_system_prompt"] = gr.Textbox(
            value=params["custom_system_prompt"], label="Custom system prompt", lines=2
        )
        controls["history_budget"] = gr.Number(
            value=params["history_budget"],
            precision=0,
            label="History budget in tokens (0: truncation length minus max new tokens)",
        )
        controls["sampling_defaults"] = gr.Checkbox(
            value=params["sampling_defaults"],
            label="Upstream sampling defaults from the next start: temperature 0.2, top_k 40, ...",
        )
        controls["long_context"] = gr.Checkbox(
            value=params["long_context"], label="Long context: scale RoPE from the next model load"
        )
        controls["target_context"] = gr.Number(
            value=params["target_context"], precision=0, label="Target context length (tokens)"
        )
    converters: dict[str, Callable[[Any], Any]] = {
        "history_budget": lambda v: int(v or 0),
        "target_context": lambda v: int(v or 0),
        "sampling_defaults": bool,
        "long_context": bool,
    }
    for key, component in controls.items():
        component.change(setter(params, key, converters.get(key, str)), component, None)
    return controls
