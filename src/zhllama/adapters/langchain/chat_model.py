"""``ChatZhllama``: a LangChain chat model that renders the Alpaca-2 template on any backend.

It is a thin ``BaseChatModel`` over ``zhllama.backends``: ``_generate`` calls
``backend.complete`` (tokens reach callbacks' ``on_llm_new_token`` as they are produced),
``_stream`` runs the same call in a worker thread and yields its text as chunks, and the async
methods are LangChain's defaults over those. Stop sequences, the family's sampling defaults and
token counting with the model's own tokenizer (LangChain's fallback would download GPT-2's) come
from the backend.
"""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from zhllama.adapters.langchain.messages import to_zhllama_messages
from zhllama.backends import Backend, Completion
from zhllama.backends.constructors import BackendConstructors
from zhllama.backends.streaming import stream_reply
from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE, encode_messages, get_template
from zhllama.core.tokenizer import encode_text

_SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")


class ChatZhllama(BackendConstructors, BaseChatModel):
    """Chinese-Alpaca-2 as a LangChain chat model.

    Build it on a backend (``ChatZhllama(backend=...)``) or with ``from_transformers``,
    ``from_llama_cpp``, ``from_openai_compatible``. Sampling defaults are upstream's; ``greedy``
    (or ``temperature=0``) decodes greedily. Per call, ``invoke(..., temperature=..., top_k=...,
    top_p=..., repetition_penalty=..., max_new_tokens=... | max_tokens=..., seed=..., greedy=...)``
    override them.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any = Field(exclude=True, description="a zhllama.backends.Backend")
    template: str = DEFAULT_TEMPLATE
    temperature: float = UPSTREAM.temperature
    top_k: int = UPSTREAM.top_k
    top_p: float = UPSTREAM.top_p
    repetition_penalty: float = UPSTREAM.repetition_penalty
    max_new_tokens: int = UPSTREAM.max_new_tokens
    greedy: bool = False
    seed: int | None = None
    stop: list[str] | None = None

    # -- LangChain's identity ------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return f"zhllama-{self.backend.name}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "template": self.template,
            **{name: getattr(self, name) for name in _SAMPLING_FIELDS},
            "greedy": self.greedy,
        }

    # -- token counting with the model's tokenizer ---------------------------------------------
    def get_token_ids(self, text: str) -> list[int]:
        return encode_text(self.backend.tokenizer, text)

    def get_num_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Any = None) -> int:
        """The exact length of the prompt these messages render to (BOS and template text included)."""
        converted = to_zhllama_messages(messages)
        ends_with_user = bool(converted) and converted[-1]["role"] == "user"
        return len(
            encode_messages(
                self.backend.tokenizer,
                get_template(self.template),
                converted,
                add_generation_prompt=ends_with_user,
            )
        )

    # -- generation ----------------------------------------------------------------------------
    def _settings(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        values = {name: kwargs.get(name, getattr(self, name)) for name in _SAMPLING_FIELDS}
        if "max_tokens" in kwargs:
            values["max_new_tokens"] = kwargs["max_tokens"]
        return {
            "template": self.template,
            "sampling": replace(Sampling(), **values),
            "stop": [*(self.stop or []), *(stop or [])],
            "greedy": bool(kwargs.get("greedy", self.greedy)),
            "seed": kwargs.get("seed", self.seed),
        }

    def _message(self, completion: Completion, chunk: bool = False) -> AIMessage | AIMessageChunk:
        usage = UsageMetadata(
            input_tokens=completion.prompt_tokens,
            output_tokens=completion.completion_tokens,
            total_tokens=completion.prompt_tokens + completion.completion_tokens,
        )
        metadata = {
            "finish_reason": completion.finish_reason,
            "stop_sequence": completion.stop_sequence,
            "model_provider": "zhllama",
            "backend": completion.backend,
        }
        cls = AIMessageChunk if chunk else AIMessage
        return cls(content="" if chunk else completion.text, usage_metadata=usage, response_metadata=metadata)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        on_text = None
        if run_manager is not None:

            def on_text(text: str) -> None:
                run_manager.on_llm_new_token(text)

        backend: Backend = self.backend
        completion = backend.complete(
            to_zhllama_messages(messages), on_text=on_text, **self._settings(stop, kwargs)
        )
        generation = ChatGeneration(
            message=self._message(completion), generation_info={"finish_reason": completion.finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"backend": completion.backend})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the reply as it is produced; closing the iterator stops the generation."""
        settings = self._settings(stop, kwargs)
        for piece in stream_reply(self.backend, to_zhllama_messages(messages), **settings):
            if isinstance(piece, str):
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
            else:
                yield ChatGenerationChunk(
                    message=self._message(piece, chunk=True),
                    generation_info={"finish_reason": piece.finish_reason},
                )
