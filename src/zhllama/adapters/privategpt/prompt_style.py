"""The Alpaca-2 prompt style for privateGPT 1.x: its prompt-style contract, rendering upstream's exact text.

privateGPT 1.x formats a conversation through a prompt-style object
(``private_gpt.components.llm.prompt_styles.prompt_style_base.PromptStyleBase``): its
``_messages_to_prompt(messages, tools=..., reasoning_effort=...)`` and ``_completion_to_prompt(text)``
return a ``PromptData(prompt=..., token_ids=...)``, and its public legacy methods unwrap ``.prompt``.
``prompt_style_class(base, prompt_data)`` makes a subclass of the checkout's own base whose text equals
``Template.render`` (no leading ``<s>``: the runtime adds BOS) and the ``privategpt`` export's spec
(``zhllama template export --format privategpt``).
"""

from collections.abc import Sequence
from typing import Any

from zhllama.core.templates import DEFAULT_TEMPLATE, Template, resolve_template


def _messages(messages: Sequence[Any]) -> list[dict[str, str]]:
    from zhllama.adapters.llamaindex.prompts import to_zhllama_messages

    return to_zhllama_messages(messages)


def prompt_style_class(base: type, prompt_data: type) -> type:
    """A subclass of privateGPT's ``PromptStyleBase`` rendering an Alpaca-2 template (``template=``)."""

    class ZhllamaAlpacaPromptStyle(base):
        def __init__(self, *args: Any, template: str | Template = DEFAULT_TEMPLATE, **kwargs: Any) -> None:
            kwargs.pop("tokenizer", None)  # privateGPT's factories pass one; the text needs none
            super().__init__(*args, **kwargs)
            self.template = resolve_template(template)

        def _messages_to_prompt(
            self, messages: Sequence[Any], tools: Any = None, reasoning_effort: Any = None, **_: Any
        ):
            return prompt_data(prompt=self.template.render(_messages(messages)), token_ids=None)

        def _completion_to_prompt(self, completion: str, **_: Any):
            return prompt_data(prompt=self.template.render_instruction(completion), token_ids=None)

    return ZhllamaAlpacaPromptStyle
