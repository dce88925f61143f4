"""Sending upstream prompts to a backend, and measuring them first: ``PromptRunner``.

Every docqa model call is what upstream's scripts send: one user message holding an upstream
prompt (``zhllama.core.prompts``) filled verbatim, wrapped by the backend in the Alpaca-2 template
with the default system prompt (``history`` adds earlier turns for ``qa chat``). ``ask`` is the
``Ask`` callable of ``zhllama.docqa.chains``; ``prompt_tokens`` measures a filled prompt exactly as
the backend will encode it, so budgets are planned in the model's own tokens. ``answer_tokens`` is
how much of the window an answer may take: upstream's ``max_new_tokens`` (512), but never more than
a quarter of the window (``budget.answer_tokens``), so that a small context still leaves room for
documents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from zhllama.backends.protocol import Backend, Completion
from zhllama.core.prompts import Prompt
from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE
from zhllama.docqa.budget import answer_tokens

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Call:
    """One model call: the prompt's name, the user message sent, what came back, and when.

    ``started`` is a ``time.perf_counter()`` reading; ``first_token_s`` and ``seconds`` count from it.
    """

    prompt: str
    instruction: str
    completion: Completion
    started: float
    first_token_s: float | None
    seconds: float


@dataclass
class PromptRunner:
    """Asks ``backend`` upstream prompts; streams to ``on_text``, announces each call to ``on_call``.

    ``on_call(prompt_name, number)`` runs before each call (number counts from 1), so a caller can
    label the steps of a refine or map-reduce chain. ``calls`` records every call made.
    """

    backend: Backend
    template: str = DEFAULT_TEMPLATE
    sampling: Sampling = UPSTREAM
    greedy: bool = False
    seed: int | None = None
    on_text: Callable[[str], None] | None = None
    on_call: Callable[[str, int], None] | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        answer = answer_tokens(self.sampling.max_new_tokens, self.backend.context_window)
        self.sampling = replace(self.sampling, max_new_tokens=answer)

    @property
    def window(self) -> int:
        return self.backend.context_window

    @property
    def answer_tokens(self) -> int:
        """The most tokens an answer may take (the rest of the window is the prompt's)."""
        return self.sampling.max_new_tokens

    @property
    def prompt_limit(self) -> int:
        """The most tokens a prompt may take: the window less the answer."""
        return self.window - self.answer_tokens

    @staticmethod
    def messages(instruction: str, history: Sequence[Mapping[str, str]] = ()) -> Messages:
        return [*map(dict, history), {"role": "user", "content": instruction}]

    def prompt_tokens(self, instruction: str, history: Sequence[Mapping[str, str]] = ()) -> int:
        """How many tokens the backend's prompt for ``instruction`` (after ``history``) takes."""
        return len(self.backend.prompt_ids(self.messages(instruction, history), self.template))

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def ask(
        self, prompt: Prompt, values: Mapping[str, str], history: Sequence[Mapping[str, str]] = ()
    ) -> str:
        """Fill ``prompt`` with ``values``, send it as the user's message, return the reply's text."""
        instruction = prompt.fill(**values)
        if self.on_call is not None:
            self.on_call(prompt.name, len(self.calls) + 1)
        started = time.perf_counter()
        first: list[float] = []

        def on_text(text: str) -> None:
            if not first:
                first.append(time.perf_counter() - started)
            if self.on_text is not None:
                self.on_text(text)

        completion = self.backend.complete(
            self.messages(instruction, history),
            template=self.template,
            sampling=self.sampling,
            on_text=on_text,
            greedy=self.greedy,
            seed=self.seed,
        )
        seconds = time.perf_counter() - started
        self.calls.append(
            Call(prompt.name, instruction, completion, started, first[0] if first else None, seconds)
        )
        return completion.text

    def first_token_after(self, start: float) -> float | None:
        """Seconds from ``start`` (a ``perf_counter`` reading) to the first text of the first call since."""
        for call in self.calls:
            if call.started >= start and call.first_token_s is not None:
                return call.started + call.first_token_s - start
        return None
