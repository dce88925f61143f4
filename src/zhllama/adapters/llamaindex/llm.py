"""``ZhllamaLLM``: a LlamaIndex LLM that renders Chinese-Alpaca-2 exactly, on any zhllama backend.

It is a thin ``CustomLLM`` over ``zhllama.backends``: ``chat`` and ``complete`` hand the conversation
to ``backend.complete`` as messages, and the backend encodes it as token ids (``encode_messages``), so
text a user typed (``</s>``, ``[INST]``) never becomes a control token and BOS is added exactly once.
``messages_to_prompt`` / ``completion_to_prompt`` are set to zhllama's renderers: they are what a
LlamaIndex component that asks for prompt *text* (token counting, logging) sees, and they render the
same prompt the ids encode.

``metadata.is_chat_model`` is True, so LlamaIndex's ``predict``/``stream`` go through ``chat`` with the
prompt as a user message (never through text that would need re-parsing); ``context_window`` is the
backend's (the RoPE plan's target when the model was loaded with ``context=N``) and ``num_output`` is
``max_new_tokens``. ``complete(prompt, formatted=True)`` — a prompt some other code already rendered —
is refused: rendered text cannot go in as safe ids.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from zhllama.adapters.llamaindex.prompts import completion_to_prompt, messages_to_prompt, to_zhllama_messages
from zhllama.adapters.model_fields import ZhllamaModelFields
from zhllama.backends import Backend, Completion
from zhllama.backends.streaming import stream_reply
from zhllama.core.templates import DEFAULT_TEMPLATE
from zhllama.errors import TemplateError


class ZhllamaLLM(ZhllamaModelFields, CustomLLM):
    """Chinese-Alpaca-2 as a LlamaIndex LLM.

    Build it on a backend (``ZhllamaLLM(backend=...)``) or with ``from_transformers``,
    ``from_llama_cpp``, ``from_openai_compatible``. Sampling defaults are upstream's; ``greedy`` (or
    ``temperature=0``) decodes greedily. Per call, ``complete(..., temperature=..., top_k=..., top_p=...,
    repetition_penalty=..., max_new_tokens=... | max_tokens=..., seed=..., greedy=..., stop=[...])``
    override them.
    """

    def __init__(self, **data: Any) -> None:
        template = data.get("template", DEFAULT_TEMPLATE)
        data.setdefault("messages_to_prompt", partial(messages_to_prompt, template=template))
        data.setdefault("completion_to_prompt", partial(completion_to_prompt, template=template))
        super().__init__(**data)

    @classmethod
    def class_name(cls) -> str:
        return "zhllama_llm"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.backend.context_window,
            num_output=self.max_new_tokens,
            is_chat_model=True,
            model_name=f"zhllama-{self.backend.name}-{self.template}",
            system_role=MessageRole.SYSTEM,
        )

    # -- generation ----------------------------------------------------------------------------
    @staticmethod
    def _raw(completion: Completion) -> dict[str, Any]:
        return {
            "finish_reason": completion.finish_reason,
            "stop_sequence": completion.stop_sequence,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "backend": completion.backend,
        }

    def _prompt_messages(self, prompt: str, formatted: bool) -> list[dict[str, str]]:
        if formatted:
            raise TemplateError(
                "ZhllamaLLM renders the Alpaca-2 prompt itself (as token ids) and cannot take text rendered "
                "elsewhere: call complete(prompt) with formatted=False, or chat(messages)"
            )
        return [{"role": "user", "content": prompt}]

    def _generate(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> Completion:
        backend: Backend = self.backend
        return backend.complete(messages, **self.generation_settings(kwargs, kwargs.get("stop")))

    def _stream(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> CompletionResponseGen:
        text = ""
        for item in stream_reply(
            self.backend, messages, **self.generation_settings(kwargs, kwargs.get("stop"))
        ):
            if isinstance(item, Completion):
                yield CompletionResponse(text=item.text, delta="", raw=self._raw(item))
            else:
                text += item
                yield CompletionResponse(text=text, delta=item)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        completion = self._generate(self._prompt_messages(prompt, formatted), kwargs)
        return CompletionResponse(text=completion.text, raw=self._raw(completion))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return self._stream(self._prompt_messages(prompt, formatted), kwargs)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = self._generate(to_zhllama_messages(messages), kwargs)
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=completion.text),
            raw=self._raw(completion),
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        converted = to_zhllama_messages(messages)

        def gen() -> ChatResponseGen:
            for response in self._stream(converted, kwargs):
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text),
                    delta=response.delta,
                    raw=response.raw,
                )

        return gen()

    # -- token counting with the model's tokenizer ---------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Plain-text tokens as the model sees them (no BOS)."""
        return self.backend.count_tokens(text)
