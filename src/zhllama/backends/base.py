"""What every backend does around its runtime: encode the prompt, fit the window, assemble the reply.

``BackendBase.complete`` is the one implementation of ``Backend.complete``: it picks the
template, encodes the conversation as ids (``encode_messages``: control ids only where the
template puts them), sizes the reply to the context window, and hands a ``GenerationRequest``
plus a ``ReplyBuilder`` to the backend's ``_generate``, which only runs its runtime. Token
counting goes through the same ``tokenizer`` in every backend.
"""

import math
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


CFG_RUNTIMES = ("transformers",)
"""The runtimes with CFG sampling (``Backend.name``, ``ModelSpec.kind``)."""


def check_guidance(
    guidance_scale: float,
    negative_prompt: str | None,
    runtime: str = "transformers",
    speculative: bool = False,
) -> None:
    """Refuse CFG settings ``runtime`` cannot honour: a scale that is not a finite number, a negative
    prompt with CFG off (scale 1), CFG on a runtime without it, CFG with speculative decoding."""
    if (
        isinstance(guidance_scale, bool)
        or not isinstance(guidance_scale, int | float)
        or not math.isfinite(guidance_scale)
    ):
        raise BackendError(f"`guidance_scale` must be a finite number (1 = no CFG), not {guidance_scale!r}")
    if guidance_scale == 1:
        if negative_prompt is not None:
            raise BackendError(
                "a `negative_prompt` needs CFG: set `guidance_scale` to something other than 1 (e.g. 1.5)"
            )
        return
    if runtime not in CFG_RUNTIMES:
        raise BackendError(
            f"`guidance_scale` (CFG sampling) runs on the transformers backend only; {runtime} has no CFG: "
            "leave it at 1, or answer with a model folder (`model`)"
        )
    if speculative:
        raise BackendError(
            "`guidance_scale` (CFG) and speculative decoding (`draft`, `lookup`) do not combine in "
            "transformers: drop one of them"
        )


def negative_messages(messages: Messages, negative_prompt: str) -> list[dict[str, Any]]:
    """The conversation CFG contrasts with (upstream's ``--negative_prompt``): the same turns in the
    same template, with ``negative_prompt`` as the system prompt."""
    turns = [dict(message) for message in messages if message.get("role") != "system"]
    return [{"role": "system", "content": negative_prompt}, *turns]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation as a backend's runtime sees it.

    ``ids`` is the prompt (BOS first), ``max_tokens`` the reply budget within the context window,
    ``greedy`` already folds in temperature 0 (the OpenAI and LangChain convention).
    ``json_schema``, when given, is the schema the reply must be a document of, already bounded to
    ``max_tokens`` (``json_schema.bound_schema``): the runtime constrains decoding to it.
    ``guidance_scale`` is CFG's (1: off); ``negative_ids`` the negative prompt's ids (None with CFG
    on: transformers' default, the prompt's last token).
    """

    messages: Messages
    template: Template
    ids: list[int]
    max_tokens: int
    sampling: Sampling
    greedy: bool
    seed: int | None
    json_schema: dict[str, Any] | None = None
    guidance_scale: float = 1.0
    negative_ids: list[int] | None = None


class BackendBase:
    """The shared half of every backend; subclasses set ``name`` and ``tokenizer`` and implement
    ``model_name``, ``context_window`` and ``_generate``; ``speculative`` says whether the runtime runs
    a draft model or prompt lookup (``_generate`` of a runtime in ``CFG_RUNTIMES`` honours
    ``guidance_scale``)."""

    name: str
    tokenizer: Any
    speculative = False

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
        guidance_scale: float = 1.0,
        negative_prompt: str | None = None,
    ) -> Completion:
        """See ``zhllama.backends.Backend.complete``."""
        check_guidance(guidance_scale, negative_prompt, self.name, self.speculative)
        chosen = resolve_template(template)
        ids = self.prompt_ids(messages, chosen)
        negative_ids = None
        if negative_prompt is not None:
            negative_ids = self.prompt_ids(negative_messages(messages, negative_prompt), chosen)
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
            guidance_scale=float(guidance_scale),
            negative_ids=negative_ids,
        )
        reply = ReplyBuilder(stop, on_text)
        finish, prompt_tokens, completion_tokens = self._generate(request, reply)
        return reply.finish(finish, prompt_tokens, completion_tokens, self.name)

    def _generate(self, request: GenerationRequest, reply: ReplyBuilder) -> tuple[FinishReason, int, int]:
        """Run the runtime, pushing text into ``reply`` (stop when ``push`` returns True); return
        ``(finish_reason, prompt_tokens, completion_tokens)``."""
        raise NotImplementedError
