"""The extension's ``params``: what a user can choose, and how a choice becomes a system prompt.

webui copies ``params`` into its settings as ``zhllama-KEY`` (so ``user_data/settings.yaml`` can
set them) and writes saved values back into the same dict before ``setup()``; the hooks read the
dict on every call, so a change in the UI applies to the next message.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT, LONG_SYSTEM_PROMPT
from zhllama.errors import TemplateError

SYSTEM_PROMPT_CHOICES = ("default", "long-answer", "custom")


def default_params() -> dict[str, Any]:
    """A fresh ``params`` dict with the family's defaults."""
    return {
        "display_name": "zhllama (Chinese-Alpaca-2)",
        "is_tab": False,
        # default | long-answer | custom (then custom_system_prompt is used)
        "system_prompt": "default",
        "custom_system_prompt": "",
        # tokens for the rendered conversation; 0 = webui's truncation_length - max_new_tokens
        "history_budget": 0,
        # at startup, webui's default sampling values (UI sliders, API defaults) become upstream's
        "sampling_defaults": True,
        # apply the RoPE plan for target_context to Transformers-loaded models
        "long_context": False,
        "target_context": 16384,
    }


def system_prompt(params: Mapping[str, Any]) -> str:
    """The system prompt ``params`` select; an unknown choice falls back to the default one."""
    choice = params.get("system_prompt", "default")
    if choice == "long-answer":
        return LONG_SYSTEM_PROMPT
    if choice == "custom" and str(params.get("custom_system_prompt", "")).strip():
        return str(params["custom_system_prompt"])
    return DEFAULT_SYSTEM_PROMPT


def history_budget(params: Mapping[str, Any], state: Mapping[str, Any]) -> int:
    """Tokens the prompt may take: webui's ``truncation_length - max_new_tokens``, capped by ours.

    Raises ``TemplateError`` saying which setting to change when ``max_new_tokens`` leaves no room.
    """
    truncation, new_tokens = int(state["truncation_length"]), int(state["max_new_tokens"])
    available = truncation - new_tokens
    if available <= 0:
        raise TemplateError(
            f"max_new_tokens ({new_tokens}) leaves no room for the prompt in the truncation length "
            f"({truncation}): set max_new_tokens (`max_tokens` in the API) below {truncation}, "
            "or raise the truncation length"
        )
    ours = int(params.get("history_budget") or 0)
    return min(available, ours) if ours > 0 else available
