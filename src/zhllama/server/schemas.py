"""The request bodies of the OpenAI-compatible routes, as the OpenAI API defines them, and their limits.

Fields the API has and zhllama cannot honour (tools, logprobs, ``n`` > 1, penalties other than the
repetition penalty, JSON mode) are accepted only at their neutral value: anything else is refused
with a 400 that says so (``unsupported``), never ignored. Unknown fields are ignored, as OpenAI's
own server and vLLM do, so newer clients keep working. ``top_k`` and ``repetition_penalty`` are
the extensions vLLM and llama.cpp's servers accept under the same names. Unset sampling fields
take the family's upstream defaults (temperature 0.2, top_p 0.9, top_k 40, repetition 1.1), not
OpenAI's. A temperature below ``GREEDY_BELOW`` means greedy decoding, as in vLLM (dividing logits
by a vanishing temperature overflows them).

Responses are plain dicts built by the routes (``openai_routes``); their shape is the API's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zhllama.server.errors import ApiError

MAX_STOP_SEQUENCES = 16
GREEDY_BELOW = 1e-5
MAX_EMBEDDING_INPUTS = 2048


class TextPart(BaseModel):
    """One part of a message's content in the list form; only text parts exist for this model."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """A message; ``developer`` is OpenAI's newer name for ``system``."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def as_message(self) -> dict[str, str]:
        """``{"role", "content"}`` as the template takes it (text parts joined)."""
        if isinstance(self.content, list):
            text = "".join(part.text for part in self.content)
        else:
            text = self.content or ""
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(BaseModel):
    include_usage: bool = False


Stop = str | Annotated[list[str], Field(max_length=MAX_STOP_SEQUENCES)] | None


class GenerationRequest(BaseModel):
    """What chat completions and completions share: the model, sampling, stops, streaming."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1_000_000)
    repetition_penalty: float | None = Field(default=None, ge=0.01, le=10.0)
    stop: Stop = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    n: int = Field(default=1, ge=1, le=128)
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | int | None = None
    user: str | None = None

    def reply_tokens(self) -> int | None:
        """The most tokens the reply may have, as asked (None: the server's default)."""
        return self.max_tokens

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def check_supported(self) -> None:
        """Refuse the settings this server cannot honour (see the module docstring)."""
        unsupported = {
            "n": self.n != 1,
            "presence_penalty": bool(self.presence_penalty),
            "frequency_penalty": bool(self.frequency_penalty),
            "logit_bias": bool(self.logit_bias),
            "logprobs": bool(self.logprobs),
        }
        unsupported.update(self._unsupported())
        for name, used in unsupported.items():
            if used:
                raise ApiError(
                    400,
                    f"`{name}` is not supported by this server (one reply per request, text only, the "
                    "repetition penalty as the only penalty): leave it out",
                    param=name,
                    code="unsupported",
                )

    def _unsupported(self) -> dict[str, bool]:
        return {}


class ChatCompletionRequest(GenerationRequest):
    """``POST /v1/chat/completions``. ``max_completion_tokens`` is OpenAI's newer ``max_tokens``.

    ``sources_in_text`` (an extension, for the docqa model): also write the sources under the
    answer's text (default); the web page turns it off and shows the structured ``sources``.
    """

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    top_logprobs: int | None = None
    sources_in_text: bool = True

    def reply_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def _unsupported(self) -> dict[str, bool]:
        json_mode = bool(self.response_format) and self.response_format.get("type", "text") != "text"
        return {
            "tools": bool(self.tools),
            "tool_choice": self.tool_choice not in (None, "none"),
            "functions": bool(self.functions),
            "function_call": self.function_call not in (None, "none"),
            "response_format": json_mode,
            "top_logprobs": bool(self.top_logprobs),
        }


class CompletionRequest(GenerationRequest):
    """``POST /v1/completions``: ``prompt`` is an instruction, wrapped in the template as one user
    message (as upstream's OpenAI server demo does); token-id prompts are refused."""

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] | list[int]
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = None

    def instruction(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if self.prompt and isinstance(self.prompt[0], str):
            return self.prompt[0]
        raise ApiError(
            400,
            "`prompt` as token ids is not accepted: send the instruction as text (the server builds the "
            "ids through the model's template)",
            param="prompt",
            code="unsupported",
        )

    def _unsupported(self) -> dict[str, bool]:
        return {"echo": self.echo, "suffix": bool(self.suffix), "best_of": (self.best_of or 1) != 1}


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: text inputs only (the encoder has its own tokenizer)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: (
        str
        | Annotated[list[str], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
        | list[int]
        | list[list[int]]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    def texts(self) -> list[str]:
        if isinstance(self.input, str):
            return [self.input]
        if self.input and all(isinstance(item, str) for item in self.input):
            return list(self.input)
        raise ApiError(
            400,
            "`input` as token ids is not accepted: send text (with LangChain's OpenAIEmbeddings, set "
            "check_embedding_ctx_length=False so it stops sending tiktoken ids)",
            param="input",
            code="unsupported",
        )


class SearchRequest(BaseModel):
    """``POST /v1/search``: the passages that best answer ``query``, no model run."""

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=100)
