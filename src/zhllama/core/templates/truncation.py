"""Fit a conversation into a token budget by dropping whole oldest turns.

Upstream's gradio demo drops the oldest (question, answer) pair while the prompt is longer than
``--max_memory`` tokens and keeps the system prompt on the new first turn; it sends an
over-long last question anyway. Here that last case is an error the caller can act on.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from zhllama.core.templates.encoding import encode_messages
from zhllama.core.templates.model import Template
from zhllama.errors import TemplateError


def truncate_history(
    messages: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    max_tokens: int,
    template: Template,
    add_generation_prompt: bool = True,
) -> list[dict[str, Any]]:
    """The longest suffix of whole turns whose ``encode_messages`` ids fit in ``max_tokens``.

    A turn is a user message and its answer; a turn is never cut. A leading system message stays
    in front (the template folds it into the new first turn). Raises ``TemplateError`` when even
    the last turn with the system prompt does not fit.
    """
    template.split_messages(messages, add_generation_prompt)
    head = [dict(messages[0])] if messages[0]["role"] == "system" else []
    body = [dict(message) for message in messages[len(head) :]]
    starts = [index for index, message in enumerate(body) if message["role"] == "user"]
    for start in starts:
        candidate = head + body[start:]
        length = len(encode_messages(tokenizer, template, candidate, add_generation_prompt))
        if length <= max_tokens:
            return candidate
    raise TemplateError(
        f"the last turn alone takes {length} tokens with the system prompt, "
        f"more than max_tokens={max_tokens}: shorten the last message or the system prompt, "
        "or raise the budget"
    )
