"""``ChatZhllama``: a LangChain chat model that renders the Alpaca-2 template on any backend.

It is a thin ``BaseChatModel`` over ``zhllama.backends``: ``_generate`` calls
``backend.complete`` (tokens reach callbacks' ``on_llm_new_token`` as they are produced),
``_stream`` runs the same call in a worker thread and yields its text as chunks, and the async
methods are LangChain's defaults over those. Stop sequences, the family's sampling defaults and
token counting with the model's own tokenizer (LangChain's fallback would download GPT-2's) come
from the backend.
"""

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from zhllama.adapters.langchain.messages import to_zhllama_messages
from zhllama.adapters.model_fields import SAMPLING_FIELDS, ZhllamaModelFields
from zhllama.backends import Backend, Completion
from zhllama.backends.streaming import stream_reply
from zhllama.core.templates import encode_messages, get_template
from zhllama.core.tokenizer import encode_text


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
        return {
            "backend": self.backend.name,
            "template": self.template,
            **{name: getattr(self, name) for name in SAMPLING_FIELDS},
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
            to_zhllama_messages(messages), on_text=on_text, **self.generation_settings(kwargs, stop)
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
        settings = self.generation_settings(kwargs, stop)
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
