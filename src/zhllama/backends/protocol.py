"""The generation protocol every backend implements, and what a generation returns.

One small interface over three runtimes (transformers in-process, llama.cpp through
llama-cpp-python, an OpenAI-compatible server) so that the LangChain chat model, the docqa answer
step and a LlamaIndex LLM share one implementation of "render the Alpaca-2 prompt, generate with
the family's sampling, stream, stop". Backends take the conversation as messages, not as prompt
text: each one turns it into token ids with ``encode_messages`` where its runtime accepts ids, so
text a user typed (``</s>``, ``[INST]``) never becomes a control token.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from zhllama.core.sampling import Sampling
from zhllama.core.templates import Template
from zhllama.errors import ZhllamaError

Messages = Sequence[Mapping[str, Any]]
"""``[{"role": "system"|"user"|"assistant", "content": str}, ...]``, ending with a user message."""

FinishReason = Literal["stop", "length"]


class BackendError(ZhllamaError):
    """A backend cannot run a generation as asked (prompt too long, server refused, runtime missing)."""


class GenerationCancelled(Exception):
    """Raised from an ``on_text`` callback to stop a generation early; ``complete`` re-raises it."""


@dataclass(frozen=True)
class Completion:
    """One generated reply.

    ``text`` is the reply without the space the template already puts after ``[/INST]`` and
    without the stop sequence that ended it. ``finish_reason`` is ``"stop"`` for EOS or a stop
    sequence (``stop_sequence`` says which, None for EOS) and ``"length"`` when ``max_new_tokens``
    (or the context window) ran out. Token counts are in the model's tokens.
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    stop_sequence: str | None = None
    backend: str = ""


@runtime_checkable
class Backend(Protocol):
    """What zhllama needs from a runtime.

    ``complete`` renders ``messages`` through ``template`` (a registered name or a ``Template``),
    generates with ``sampling`` (upstream's defaults unless given; ``greedy=True`` or temperature 0
    means argmax, the repetition penalty still applying), stops at EOS, at ``max_new_tokens`` or
    before the first of ``stop``, and passes the reply's text to ``on_text`` piece by piece as it is
    produced (the pieces join to ``Completion.text``). ``on_text`` may raise ``GenerationCancelled``
    to stop early. ``json_schema`` constrains decoding so that the reply is a JSON document valid
    against it (bounded to fit the reply, see ``zhllama.backends.json_schema``). Backends serialise
    calls on one local runtime; a server backend may run calls concurrently.

    ``count_tokens(text)`` counts plain-text tokens as the model sees them (no BOS).
    ``context_window`` is the most tokens prompt plus reply may hold; ``model_name`` says which model
    answers (its folder, GGUF file or server model id).
    """

    name: str

    def complete(
        self,
        messages: Messages,
        *,
        template: str | Template = ...,
        sampling: Sampling = ...,
        stop: Sequence[str] = ...,
        on_text: Callable[[str], None] | None = ...,
        greedy: bool = ...,
        seed: int | None = ...,
        json_schema: Mapping[str, Any] | None = ...,
    ) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...

    def prompt_ids(self, messages: Messages, template: str | Template = ...) -> list[int]: ...

    @property
    def model_name(self) -> str: ...

    @property
    def context_window(self) -> int: ...
