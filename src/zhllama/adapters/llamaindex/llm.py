"""``ZhllamaLLM``: a LlamaIndex LLM that renders Chinese-Alpaca-2 exactly, on any zhllama backend.

It is a thin ``CustomLLM`` over ``zhllama.backends``: ``chat`` and ``complete`` hand the conversation
to ``backend.complete`` as messages, and the backend encodes it as token ids (``encode_messages``), so
text a user typed (``</s>``, ``[INST]``) never becomes a control token and BOS is added exactly once.
``messages_to_prompt`` / ``completion_to_prompt`` are set to zhllama's renderers: they are what a
LlamaIndex component that asks for prompt *text* (token counting, logging) sees, and they render the
same prompt the ids encode.

- ``metadata.is_chat_model`` is True, so LlamaIndex's ``predict``/``stream`` go through ``chat`` with the
  prompt as a user message (never through text that would need re-parsing); ``context_window`` is the
  backend's (the RoPE plan's target when the model was loaded with ``context=N``) and ``num_output`` is
  what a reply may take of it (``max_new_tokens``, at most a quarter of the window: LlamaIndex's prompt
  helper packs the rest with text); replies are cut there unless a call asks for more.
  ``complete(prompt, formatted=True)`` — a prompt some other code already rendered — is refused:
  rendered text cannot go in as safe ids.
- the async methods run the generation in a worker thread (``astream_reply``): the event loop keeps
  running, and a consumer that stops reading (or a cancelled task) stops the generation;
- ``raw["usage"]`` holds the backend's token counts (what ``TokenCountingHandler`` reads);
- ``structured_predict`` and its stream/async forms (and so ``as_structured_llm``) constrain decoding to
  the output class's JSON schema (``zhllama.backends.json_schema``): the reply validates by construction.
"""

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.program.utils import FlexibleModel, process_streaming_objects
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from zhllama.adapters.llamaindex.prompts import completion_to_prompt, messages_to_prompt, to_zhllama_messages
from zhllama.adapters.model_fields import ZhllamaModelFields
from zhllama.backends import Backend, BackendError, Completion
from zhllama.backends.streaming import astream_reply, stream_reply
from zhllama.core.templates import DEFAULT_TEMPLATE
from zhllama.docqa.budget import answer_tokens
from zhllama.errors import TemplateError

Model = TypeVar("Model", bound=BaseModel)


class ZhllamaLLM(ZhllamaModelFields, CustomLLM):
    """Chinese-Alpaca-2 as a LlamaIndex LLM.

    Build it on a backend (``ZhllamaLLM(backend=...)``) or with ``from_transformers``,
    ``from_llama_cpp``, ``from_openai_compatible``. Sampling defaults are upstream's; ``greedy`` (or
    ``temperature=0``) decodes greedily. Per call, ``complete(..., temperature=..., top_k=..., top_p=...,
    repetition_penalty=..., max_new_tokens=... | max_tokens=..., seed=..., greedy=..., stop=[...])``
    override them. ``llm.tokenize`` is the model's tokenizer for ``Settings.tokenizer`` and
    ``TokenCountingHandler(tokenizer=...)``.
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
        window = self.backend.context_window
        return LLMMetadata(
            context_window=window,
            num_output=answer_tokens(self.max_new_tokens, window),
            is_chat_model=True,
            model_name=self.resolved_model_name,
            system_role=MessageRole.SYSTEM,
        )

    # -- token counting with the model's tokenizer ---------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Plain-text tokens as the model sees them (no BOS)."""
        return self.backend.count_tokens(text)

    @property
    def tokenize(self) -> Callable[[str], list[int]]:
        """``text -> ids`` with the model's tokenizer (no BOS): ``Settings.tokenizer = llm.tokenize``."""
        from zhllama.core.tokenizer import encode_text

        return partial(encode_text, self.backend.tokenizer)

    # -- generation ----------------------------------------------------------------------------
    def _raw(self, completion: Completion) -> dict[str, Any]:
        return {
            "model": self.resolved_model_name,
            "finish_reason": completion.finish_reason,
            "stop_sequence": completion.stop_sequence,
            "backend": completion.backend,
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
        }

    def _settings(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Backend settings for a call: a reply takes at most ``metadata.num_output`` tokens unless the call
        asks for more (what LlamaIndex's prompt helper left room for)."""
        if "max_new_tokens" not in kwargs and "max_tokens" not in kwargs:
            kwargs = {**kwargs, "max_new_tokens": self.metadata.num_output}
        settings = self.generation_settings(kwargs, kwargs.get("stop"))
        if kwargs.get("response_format") is not None:
            settings["json_schema"] = kwargs["response_format"]
        return settings

    def _prompt_messages(self, prompt: str, formatted: bool) -> list[dict[str, str]]:
        if formatted:
            raise TemplateError(
                "ZhllamaLLM renders the Alpaca-2 prompt itself (as token ids) and cannot take text rendered "
                "elsewhere: call complete(prompt) with formatted=False, or chat(messages)"
            )
        return [{"role": "user", "content": prompt}]

    def _generate(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> CompletionResponse:
        backend: Backend = self.backend
        completion = backend.complete(messages, **self._settings(kwargs))
        return CompletionResponse(text=completion.text, raw=self._raw(completion))

    def _stream(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> CompletionResponseGen:
        text = ""
        for item in stream_reply(self.backend, messages, **self._settings(kwargs)):
            if isinstance(item, Completion):
                yield CompletionResponse(text=item.text, delta="", raw=self._raw(item))
            else:
                text += item
                yield CompletionResponse(text=text, delta=item)

    async def _agenerate(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> CompletionResponse:
        async for response in self._astream(messages, kwargs):
            if response.raw:
                return CompletionResponse(text=response.text, raw=response.raw)
        raise BackendError("the generation ended without a reply")  # pragma: no cover - cancelled only

    async def _astream(
        self, messages: list[dict[str, str]], kwargs: dict[str, Any]
    ) -> CompletionResponseAsyncGen:
        text = ""
        async for item in astream_reply(self.backend, messages, **self._settings(kwargs)):
            if isinstance(item, Completion):
                yield CompletionResponse(text=item.text, delta="", raw=self._raw(item))
            else:
                text += item
                yield CompletionResponse(text=text, delta=item)

    @staticmethod
    def _chat_response(response: CompletionResponse) -> ChatResponse:
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text),
            delta=response.delta,
            raw=response.raw,
        )

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._generate(self._prompt_messages(prompt, formatted), kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return self._stream(self._prompt_messages(prompt, formatted), kwargs)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat_response(self._generate(to_zhllama_messages(messages), kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        converted = to_zhllama_messages(messages)
        return (self._chat_response(response) for response in self._stream(converted, kwargs))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await self._agenerate(self._prompt_messages(prompt, formatted), kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return self._astream(self._prompt_messages(prompt, formatted), kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat_response(await self._agenerate(to_zhllama_messages(messages), kwargs))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        converted = to_zhllama_messages(messages)

        async def gen() -> ChatResponseAsyncGen:
            async for response in self._astream(converted, kwargs):
                yield self._chat_response(response)

        return gen()

    # -- structured output by constrained decoding ---------------------------------------------
    def _structured_request(
        self,
        output_cls: type[BaseModel],
        prompt: BasePromptTemplate,
        llm_kwargs: dict | None,
        prompt_args: dict,
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        messages = prompt.format_messages(llm=self, **prompt_args)
        return messages, {**(llm_kwargs or {}), "response_format": output_cls.model_json_schema()}

    def _constrained(self) -> bool:
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An ``output_cls`` instance, decoded under its JSON schema (``pydantic_program_mode`` DEFAULT)."""
        if not self._constrained():
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        return output_cls.model_validate_json(self.chat(messages, **kwargs).message.content or "")

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        if not self._constrained():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        response = await self.achat(messages, **kwargs)
        return output_cls.model_validate_json(response.message.content or "")

    def stream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Iterator[Model | FlexibleModel]:
        """Partial objects (``FlexibleModel``) as the JSON grows, the validated ``output_cls`` last."""
        if not self._constrained():
            yield from super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            return
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        current = None
        for response in self.stream_chat(messages, **kwargs):
            if response.raw:
                yield output_cls.model_validate_json(response.message.content or "")
                return
            partial = process_streaming_objects(response, output_cls, cur_objects=current, flexible_mode=True)
            current = partial if isinstance(partial, list) else [partial]
            yield partial

    async def astream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncIterator[Model | FlexibleModel]:
        if not self._constrained():
            return await super().astream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)

        async def gen() -> AsyncIterator[Model | FlexibleModel]:
            current = None
            async for response in await self.astream_chat(messages, **kwargs):
                if response.raw:
                    yield output_cls.model_validate_json(response.message.content or "")
                    return
                partial = process_streaming_objects(
                    response, output_cls, cur_objects=current, flexible_mode=True
                )
                current = partial if isinstance(partial, list) else [partial]
                yield partial

        return gen()
