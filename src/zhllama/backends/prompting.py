"""What every backend does before generating: pick the template, encode, fit the context window."""

from typing import Any

from zhllama.backends.protocol import BackendError, Messages
from zhllama.core.sampling import Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE, Template, encode_messages, get_template
from zhllama.core.tokenizer import encode_text


def resolve_template(template: str | Template) -> Template:
    """A ``Template`` as given, or the registered template of that name."""
    return template if isinstance(template, Template) else get_template(template)


def encode_prompt(tokenizer: object, messages: Messages, template: str | Template) -> list[int]:
    """The prompt's ids, BOS first, control ids only where the template places them."""
    return encode_messages(tokenizer, resolve_template(template), messages, add_generation_prompt=True)


def reply_budget(prompt_tokens: int, max_new_tokens: int, context_window: int) -> int:
    """How many tokens the reply may have: ``max_new_tokens``, less if the window is nearly full.

    Raises ``BackendError`` when the prompt leaves no room at all.
    """
    room = context_window - prompt_tokens
    if room <= 0:
        raise BackendError(
            f"the prompt is {prompt_tokens} tokens but the context window is {context_window}: shorten the "
            "conversation (zhllama.core.templates.truncate_history) or the documents, or load the model with "
            "a longer context (RoPE scaling: context=N)"
        )
    return min(max_new_tokens, room)


def is_greedy(sampling: Sampling, greedy: bool) -> bool:
    """Greedy when asked, or when the temperature is 0 (the OpenAI and LangChain convention)."""
    return greedy or sampling.temperature <= 0


class TokenizerBacked:
    """Token counting and prompt encoding, the same in every backend: both go through ``self.tokenizer``."""

    tokenizer: Any

    def count_tokens(self, text: str) -> int:
        return len(encode_text(self.tokenizer, text))

    def prompt_ids(self, messages: Messages, template: str | Template = DEFAULT_TEMPLATE) -> list[int]:
        return encode_prompt(self.tokenizer, messages, template)
