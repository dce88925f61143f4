"""What every backend does around its runtime: encode the prompt, fit the window, assemble the reply.

``BackendBase.complete`` is the one implementation of ``Backend.complete``: it picks the
template, encodes the conversation as ids (``encode_messages``: control ids only where the
template puts them), sizes the reply to the context window, and hands a ``GenerationRequest``
plus a ``ReplyBuilder`` to the backend's ``_generate``, which only runs its runtime. Token
counting goes through the same ``tokenizer`` in every backend.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zhllama.backends.json_schema import bound_schema
from zhllama.backends.protocol import BackendError, Completion, FinishReason, Messages
from zhllama.backends.reply import ReplyBuilder
from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE, Template, encode_messages, resolve_template
from zhllama.core.tokenizer import encode_text


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


@dataclass(frozen=True)
class GenerationRequest:
    """One generation as a backend's runtime sees it.

    ``ids`` is the prompt (BOS first), ``max_tokens`` the reply budget within the context window,
    ``greedy`` already folds in temperature 0 (the OpenAI and LangChain convention).
    ``json_schema``, when given, is the schema the reply must be a document of, already bounded to
    ``max_tokens`` (``json_schema.bound_schema``): the runtime constrains decoding to it.
    """

    messages: Messages
    template: Template
    ids: list[int]
    max_tokens: int
    sampling: Sampling
    greedy: bool
    seed: int | None
    json_schema: dict[str, Any] | None = None


class BackendBase:
    """The shared half of every backend; subclasses set ``name`` and ``tokenizer`` and implement
    ``model_name``, ``context_window`` and ``_generate``."""

    name: str
    tokenizer: Any

    @property
    def model_name(self) -> str:
        """Which model answers: its folder, its GGUF file, or the server's model id."""
        raise NotImplementedError

    @property
    def context_window(self) -> int:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        return len(encode_text(self.tokenizer, text))

    def prompt_ids(self, messages: Messages, template: str | Template = DEFAULT_TEMPLATE) -> list[int]:
        return encode_prompt(self.tokenizer, messages, template)

    def complete(
        self,
        messages: Messages,
        *,
        template: str | Template = DEFAULT_TEMPLATE,
        sampling: Sampling = UPSTREAM,
        stop: Sequence[str] = (),
        on_text: Callable[[str], None] | None = None,
        greedy: bool = False,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Completion:
        """See ``zhllama.backends.Backend.complete``."""
        chosen = resolve_template(template)
        ids = self.prompt_ids(messages, chosen)
        max_tokens = reply_budget(len(ids), sampling.max_new_tokens, self.context_window)
        request = GenerationRequest(
            messages=messages,
            template=chosen,
            ids=ids,
            max_tokens=max_tokens,
            sampling=sampling,
            greedy=greedy or sampling.temperature <= 0,
            seed=seed,
            json_schema=None if json_schema is None else bound_schema(json_schema, max_tokens),
        )
        reply = ReplyBuilder(stop, on_text)
        finish, prompt_tokens, completion_tokens = self._generate(request, reply)
        return reply.finish(finish, prompt_tokens, completion_tokens, self.name)

    def _generate(self, request: GenerationRequest, reply: ReplyBuilder) -> tuple[FinishReason, int, int]:
        """Run the runtime, pushing text into ``reply`` (stop when ``push`` returns True); return
        ``(finish_reason, prompt_tokens, completion_tokens)``."""
        raise NotImplementedError
