"""The Alpaca-2 prompt style for privateGPT: its prompt-style contract, rendering upstream's exact text.

privateGPT formats conversations through a prompt-style object: ``_messages_to_prompt(messages)`` and
``_completion_to_prompt(completion)``, wrapped by public ``messages_to_prompt`` / ``completion_to_prompt``
that its LLM (llama.cpp, OpenAI-like) calls. The contract's return type changed between releases:

- v0.6.x (``private_gpt.components.llm.prompt_helper.AbstractPromptStyle``): both return ``str``;
- v1.x (``private_gpt.components.llm.prompt_styles.prompt_style_base.PromptStyleBase``): both return a
  ``PromptData(prompt=..., token_ids=...)`` and take ``tools`` / ``reasoning_effort`` keywords.

``AlpacaPromptStyle`` is the v0.6 shape and needs no privateGPT (it duck-types the base class);
``prompt_style_class(base)`` makes a subclass of whichever base a checkout has. The text equals
``Template.render`` (no leading ``<s>``: llama.cpp adds BOS) and the ``privategpt`` export's spec
(``zhllama template export --format privategpt``).
"""

from collections.abc import Sequence
from typing import Any

from zhllama.core.templates import DEFAULT_TEMPLATE, Template, resolve_template


def _messages(messages: Sequence[Any]) -> list[dict[str, str]]:
    from zhllama.adapters.llamaindex.prompts import to_zhllama_messages

    return to_zhllama_messages(messages)


class AlpacaPromptStyle:
    """privateGPT v0.6's prompt-style contract for an Alpaca-2 template (``template`` names which)."""

    def __init__(self, *args: Any, template: str | Template = DEFAULT_TEMPLATE, **kwargs: Any) -> None:
        self.template = resolve_template(template)
        super().__init__(*args, **kwargs)

    def _messages_to_prompt(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> str:
        return self.template.render(_messages(messages))

    def _completion_to_prompt(self, completion: str, *args: Any, **kwargs: Any) -> str:
        return self.template.render_instruction(completion)

    def messages_to_prompt(self, messages: Sequence[Any]) -> str:
        return self._messages_to_prompt(messages)

    def completion_to_prompt(self, completion: str) -> str:
        return self._completion_to_prompt(completion)


def prompt_style_class(base: type, prompt_data: type | None = None) -> type:
    """A subclass of privateGPT's prompt-style ``base`` rendering Alpaca-2.

    With ``prompt_data`` (v1's ``PromptData``) the underscored methods return it, as v1 requires, and
    the public legacy methods are v1's own (they unwrap ``PromptData.prompt``).
    """
    if prompt_data is None:
        return type("ZhllamaAlpacaPromptStyle", (AlpacaPromptStyle, base), {})

    class ZhllamaAlpacaPromptStyle(base):
        def __init__(self, *args: Any, template: str | Template = DEFAULT_TEMPLATE, **kwargs: Any) -> None:
            kwargs.pop("tokenizer", None)  # v1's factories pass one; the text needs none
            super().__init__(*args, **kwargs)
            self.template = resolve_template(template)

        def _messages_to_prompt(
            self, messages: Sequence[Any], tools: Any = None, reasoning_effort: Any = None, **_: Any
        ):
            return prompt_data(prompt=self.template.render(_messages(messages)), token_ids=None)

        def _completion_to_prompt(self, completion: str, **_: Any):
            return prompt_data(prompt=self.template.render_instruction(completion), token_ids=None)

    return ZhllamaAlpacaPromptStyle
