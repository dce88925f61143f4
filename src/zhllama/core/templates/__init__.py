"""The Alpaca-2 prompt family: render, encode safely, truncate history, export to each tool.

``get_template("alpaca-2").render(messages)`` gives upstream's exact prompt text;
``encode_messages`` gives its ids without letting user text become control tokens;
``truncate_history`` fits a conversation into a budget; ``exports`` writes the template for
transformers, vLLM, text-generation-webui, llama.cpp and privateGPT.
"""

from zhllama.core.templates.builtin import DEFAULT_SYSTEM_PROMPT, LONG_SYSTEM_PROMPT
from zhllama.core.templates.encoding import encode_messages
from zhllama.core.templates.model import Segment, Template
from zhllama.core.templates.registry import (
    DEFAULT_TEMPLATE,
    get_template,
    list_templates,
    resolve_template,
    templates,
)
from zhllama.core.templates.selection import template_for_config, template_for_model
from zhllama.core.templates.truncation import truncate_history

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TEMPLATE",
    "LONG_SYSTEM_PROMPT",
    "Segment",
    "Template",
    "encode_messages",
    "get_template",
    "list_templates",
    "resolve_template",
    "template_for_config",
    "template_for_model",
    "templates",
    "truncate_history",
]
