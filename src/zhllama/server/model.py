"""The model the server generates with: its id, backend, template and default sampling.

``fit`` is the check a request passes before it may wait for the model: the conversation must be
one the template accepts, its prompt (as the backend's own ids) must leave room in the context
window, and the reply is bounded by what is left (``max_tokens`` larger than the room is cut to it
and the reply ends with ``finish_reason: "length"``, as the backends do). A prompt that fills the
window is refused with 400 ``context_length_exceeded``, the code OpenAI's API uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from zhllama.backends.protocol import Backend, Messages
from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.server.errors import ApiError
from zhllama.server.schemas import GREEDY_BELOW, GenerationRequest


@dataclass(frozen=True)
class Reply:
    """A finished generation as the routes answer it; ``sources`` only from the docqa model."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    sources: list[dict[str, Any]] | None = None
    sources_text: str = ""


@dataclass(frozen=True)
class ServedModel:
    """What ``/v1/models`` lists and generation requests name.

    ``sampling``, ``greedy`` and ``seed`` are the defaults of requests that leave them out (the
    command's ``--max-new-tokens``/``--greedy``/``--seed`` over upstream's sampling).
    """

    id: str
    backend: Backend
    template: str
    kind: str
    location: str
    sampling: Sampling = UPSTREAM
    greedy: bool = False
    seed: int | None = None

    @property
    def context_window(self) -> int:
        return self.backend.context_window

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "template": self.template}

    def sampling_for(self, request: GenerationRequest, reply_tokens: int) -> Sampling:
        """This request's sampling: its own values where given, the defaults elsewhere."""
        given = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "repetition_penalty": request.repetition_penalty,
        }
        return replace(
            self.sampling,
            max_new_tokens=reply_tokens,
            **{name: value for name, value in given.items() if value is not None},
        )

    def greedy_for(self, request: GenerationRequest) -> bool:
        """Greedy when the request's temperature is (nearly) 0, or the server's default when it has none."""
        if request.temperature is None:
            return self.greedy
        return request.temperature < GREEDY_BELOW

    def fit(self, messages: Messages, max_tokens: int | None) -> tuple[int, int]:
        """``(prompt_tokens, reply_tokens)`` for ``messages``; 400 when the prompt leaves no room."""
        prompt_tokens = len(self.backend.prompt_ids(messages, self.template))
        room = self.context_window - prompt_tokens
        if room <= 0:
            raise ApiError(
                400,
                f"this model's context window is {self.context_window} tokens and the messages take "
                f"{prompt_tokens}: shorten them, or start the server with a longer --context",
                param="messages",
                code="context_length_exceeded",
            )
        wanted = max_tokens if max_tokens is not None else self.sampling.max_new_tokens
        return prompt_tokens, min(wanted, room)

    def job(self, messages: Messages, request: GenerationRequest) -> Callable[[Callable[[str], None]], Reply]:
        """The generation ``request`` asks for, checked now (``fit``), to run when the model is free."""
        _, reply_tokens = self.fit(messages, request.reply_tokens())
        sampling = self.sampling_for(request, reply_tokens)
        greedy = self.greedy_for(request)
        seed = request.seed if request.seed is not None else self.seed

        def run(on_text: Callable[[str], None]) -> Reply:
            completion = self.backend.complete(
                messages,
                template=self.template,
                sampling=sampling,
                stop=request.stops(),
                on_text=on_text,
                greedy=greedy,
                seed=seed,
            )
            return Reply(
                completion.text,
                completion.finish_reason,
                completion.prompt_tokens,
                completion.completion_tokens,
            )

        return run
