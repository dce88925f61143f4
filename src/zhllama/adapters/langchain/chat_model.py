"""``ChatZhllama``: a LangChain chat model that renders the Alpaca-2 template on any backend.

It is a thin ``BaseChatModel`` over ``zhllama.backends``:

- ``_generate`` calls ``backend.complete`` (tokens reach callbacks' ``on_llm_new_token`` as they are
  produced), ``_stream`` runs the same call in a worker thread and yields its text as chunks;
  ``_agenerate``/``_astream`` do the same through ``astream_reply``, so the event loop never waits on
  the model and a consumer that stops (or a cancelled task) stops the generation;
- every reply carries ``usage_metadata`` and ``response_metadata["model_name"]`` (what
  ``get_usage_metadata_callback`` keys usage by); the cache key and LangSmith's parameters hold the
  model, the template, the sampling settings and the seed;
- ``with_structured_output`` and ``bind_tools`` constrain decoding to a JSON schema
  (``zhllama.backends.json_schema``; the tool format in ``tools``), so a structured reply parses and
  validates by construction;
- token counting uses the model's own tokenizer (LangChain's fallback would download GPT-2's) and
  accepts any partial message list (``trim_messages``).
"""

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputKeyToolsParser, JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import PydanticToolsParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from zhllama.adapters.langchain import tools as tool_format
from zhllama.adapters.langchain.messages import countable, to_zhllama_messages
from zhllama.adapters.model_fields import ZhllamaModelFields
from zhllama.backends import Backend, BackendError, Completion
from zhllama.backends.streaming import astream_reply, stream_reply
from zhllama.core.templates import encode_messages, get_template
from zhllama.core.tokenizer import encode_text

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


class ChatZhllama(ZhllamaModelFields, BaseChatModel):
    """Chinese-Alpaca-2 as a LangChain chat model.

    Build it on a backend (``ChatZhllama(backend=...)``) or with ``from_transformers``,
    ``from_llama_cpp``, ``from_openai_compatible``. Sampling defaults are upstream's; ``greedy``
    (or ``temperature=0``) decodes greedily. Per call, ``invoke(..., temperature=..., top_k=...,
    top_p=..., repetition_penalty=..., max_new_tokens=... | max_tokens=..., seed=..., greedy=...)``
    override them.
    """

    # -- LangChain's identity ------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return f"zhllama-{self.backend.name}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What makes a reply what it is: the cache key and the traced parameters are built from it."""
        return {
            "model_name": self.resolved_model_name,
            "backend": self.backend.name,
            **self.settings_snapshot(),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="zhllama",
            ls_model_name=kwargs.get("model") or self.resolved_model_name,
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", kwargs.get("max_new_tokens", self.max_new_tokens)),
        )
        if stop or self.stop:
            params["ls_stop"] = [*(self.stop or []), *(stop or [])]
        return params

    # -- token counting with the model's tokenizer ---------------------------------------------
    def get_token_ids(self, text: str) -> list[int]:
        return encode_text(self.backend.tokenizer, text)

    def get_num_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """The exact length of the prompt these messages render to (BOS, template text and the tool
        instruction of ``tools`` included); for a partial list, of the smallest conversation holding it."""
        conversation, add_generation_prompt = countable(messages)
        if tools:
            conversation = self._with_tools(conversation, [convert_to_openai_tool(t) for t in tools])
        return len(
            encode_messages(
                self.backend.tokenizer,
                get_template(self.template),
                conversation,
                add_generation_prompt=add_generation_prompt,
            )
        )

    # -- tools and structured output -----------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable | BaseTool],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (anything ``convert_to_openai_tool`` takes) to the model.

        ``tool_choice``: ``"auto"`` (default; the model decides), ``"any"``/``"required"``/``True`` (a call
        to one of the tools, decoding constrained to it), a tool's name (a call to that tool), ``"none"``.
        Replies carry the call in ``AIMessage.tool_calls``. See ``zhllama.adapters.langchain.tools``.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        choice = tool_format.resolve_tool_choice(tool_choice, formatted)
        return super().bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: StructuredMethod = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Mapping[str, Any] | Any]:
        """A runnable whose replies are ``schema`` instances (pydantic) or dicts (TypedDict, JSON schema).

        Every method constrains decoding to the schema, so the reply parses and validates by
        construction: ``"json_schema"`` (default) as a JSON document, ``"function_calling"`` as a
        forced call of a tool named after the schema, ``"json_mode"`` like ``"json_schema"`` (free-form
        JSON would have no length bound). ``strict`` is accepted for compatibility: decoding is always
        strict. ``include_raw=True`` returns ``{"raw", "parsed", "parsing_error"}``.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        if schema is None:
            raise ValueError(
                "`schema` is required: ChatZhllama constrains decoding to a schema (a pydantic class, a "
                "TypedDict or a JSON schema dict)"
            )
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        if method == "function_calling":
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=tool_name, ls_structured_output_format=ls_format)
            parser: Runnable = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            llm = self.bind(
                response_format=convert_to_json_schema(schema), ls_structured_output_format=ls_format
            )
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
        else:
            raise ValueError(f"unknown `method` {method!r}: use json_schema, function_calling or json_mode")
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks([no_parse], exception_key="parsing_error")

    def _with_tools(
        self, conversation: list[dict[str, str]], tools: Sequence[Mapping[str, Any]]
    ) -> list[dict]:
        default_system = get_template(self.template).default_system_prompt
        return tool_format.with_tools_in_system_prompt(conversation, tools, default_system)

    # -- one call ------------------------------------------------------------------------------
    def _call(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[list[dict[str, str]], dict[str, Any], list[dict[str, Any]], str]:
        """``(conversation, backend settings, bound tools, tool choice)`` for one call."""
        model = kwargs.pop("model", None)
        if model is not None and model != self.resolved_model_name:
            raise BackendError(
                f"`model` {model!r}: this ChatZhllama runs {self.resolved_model_name!r} (one loaded model); "
                "build another ChatZhllama on a backend for that model"
            )
        tools = list(kwargs.pop("tools", None) or [])
        choice = kwargs.pop("tool_choice", "auto") if tools else "none"
        response_format = kwargs.pop("response_format", None)
        conversation = to_zhllama_messages(messages)
        settings = self.generation_settings(kwargs, stop)
        if choice != "none":
            conversation = self._with_tools(conversation, tools)
            if choice != "auto":
                response_format = tool_format.call_schema(tools, choice)
        if response_format is not None:
            settings["json_schema"] = response_format
        return conversation, settings, tools if choice != "none" else [], choice

    def _message(
        self, completion: Completion, tools: Sequence[Mapping[str, Any]], chunk: bool = False
    ) -> AIMessage | AIMessageChunk:
        """The reply as a message: text, or a tool call when it is one; usage and metadata always."""
        usage = UsageMetadata(
            input_tokens=completion.prompt_tokens,
            output_tokens=completion.completion_tokens,
            total_tokens=completion.prompt_tokens + completion.completion_tokens,
        )
        metadata = {
            "model_name": self.resolved_model_name,
            "finish_reason": completion.finish_reason,
            "stop_sequence": completion.stop_sequence,
            "model_provider": "zhllama",
            "backend": completion.backend,
        }
        call = tool_format.parse_call(completion.text, tools) if tools else None
        if chunk:
            calls = [tool_format.call_chunk(call)] if call else []
            return AIMessageChunk(
                content="", usage_metadata=usage, response_metadata=metadata, tool_call_chunks=calls
            )
        if call is not None:
            return AIMessage(content="", tool_calls=[call], usage_metadata=usage, response_metadata=metadata)
        return AIMessage(content=completion.text, usage_metadata=usage, response_metadata=metadata)

    # -- generation ----------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        conversation, settings, tools, _ = self._call(messages, stop, kwargs)
        on_text = None
        if run_manager is not None:

            def on_text(text: str) -> None:
                run_manager.on_llm_new_token(text)

        backend: Backend = self.backend
        completion = backend.complete(conversation, on_text=on_text, **settings)
        return self._result(completion, tools)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        conversation, settings, tools, _ = self._call(messages, stop, kwargs)
        async for piece in astream_reply(self.backend, conversation, **settings):
            if isinstance(piece, Completion):
                return self._result(piece, tools)
            if run_manager is not None:
                await run_manager.on_llm_new_token(piece)
        raise BackendError("the generation ended without a reply")  # pragma: no cover - cancelled only

    def _result(self, completion: Completion, tools: Sequence[Mapping[str, Any]]) -> ChatResult:
        generation = ChatGeneration(
            message=self._message(completion, tools),
            generation_info={"finish_reason": completion.finish_reason},
        )
        return ChatResult(generations=[generation], llm_output={"backend": completion.backend})

    def _chunks(self, tools: Sequence[Mapping[str, Any]], choice: str) -> "_ChunkBuilder":
        return _ChunkBuilder(self, tools, held=choice not in ("auto", "none"))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the reply as it is produced; closing the iterator stops the generation."""
        conversation, settings, tools, choice = self._call(messages, stop, kwargs)
        chunks = self._chunks(tools, choice)
        for piece in stream_reply(self.backend, conversation, **settings):
            if isinstance(piece, str) and run_manager is not None:
                run_manager.on_llm_new_token(piece)
            yield from chunks.feed(piece)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """``_stream`` for an event loop: the model runs in a worker thread, the loop stays free."""
        conversation, settings, tools, choice = self._call(messages, stop, kwargs)
        chunks = self._chunks(tools, choice)
        async for piece in astream_reply(self.backend, conversation, **settings):
            if isinstance(piece, str) and run_manager is not None:
                await run_manager.on_llm_new_token(piece)
            for chunk in chunks.feed(piece):
                yield chunk


class _ChunkBuilder:
    """Turns a reply's pieces into message chunks.

    Text streams as content, except what may be a tool call: with tools bound, a reply that starts with
    ``{`` is held back until it ends, then sent as a tool-call chunk if it is one (as text otherwise), so
    a streamed reply merges into the same message ``invoke`` returns.
    """

    def __init__(self, model: ChatZhllama, tools: Sequence[Mapping[str, Any]], held: bool) -> None:
        self.model = model
        self.tools = tools
        self.held = held  # a call is required: the whole reply is one
        self.pending = ""
        self.is_text = not tools

    def feed(self, piece: str | Completion) -> Iterator[ChatGenerationChunk]:
        if isinstance(piece, Completion):
            final = self.model._message(piece, self.tools, chunk=True)
            if self.pending and not final.tool_call_chunks:
                yield ChatGenerationChunk(message=AIMessageChunk(content=self.pending))
            yield ChatGenerationChunk(message=final, generation_info={"finish_reason": piece.finish_reason})
            return
        if not self.is_text:
            self.pending += piece
            start = self.pending.lstrip()
            if self.held or not start or start.startswith("{"):
                return
            self.is_text = True
            piece, self.pending = self.pending, ""
        yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
