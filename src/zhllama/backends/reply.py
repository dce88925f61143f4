"""Assemble a reply from streamed text: stop sequences, the answer's leading space, callbacks.

Every backend feeds the runtime's text pieces into a ``ReplyBuilder`` so that the three of them
agree on what a reply is (see ``Completion``), whatever their runtimes do with spaces and stops.
"""

from collections.abc import Callable, Sequence

from zhllama.backends.protocol import Completion, FinishReason
from zhllama.backends.stops import StopFilter


class ReplyBuilder:
    """Collects a reply piece by piece.

    ``push(text)`` drops the single leading space the model writes after ``[/INST]`` (the
    template's answer separator stands for it), holds back what might start a stop sequence,
    hands the rest to ``on_text`` and returns True once a stop sequence has appeared (the caller
    then ends generation). ``finish(...)`` flushes and returns the ``Completion``.
    """

    def __init__(self, stop: Sequence[str] = (), on_text: Callable[[str], None] | None = None) -> None:
        self._filter = StopFilter(stop)
        self._on_text = on_text
        self._parts: list[str] = []
        self._started = False

    @property
    def stopped(self) -> bool:
        return self._filter.stopped

    def push(self, text: str) -> bool:
        if not self._started and text:
            text = text.removeprefix(" ")
            self._started = bool(text)
        self._emit(self._filter.feed(text))
        return self._filter.stopped

    def finish(
        self, finish_reason: FinishReason, prompt_tokens: int, completion_tokens: int, backend: str
    ) -> Completion:
        self._emit(self._filter.flush())
        if self._filter.stopped:
            finish_reason = "stop"
        return Completion(
            text="".join(self._parts),
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            stop_sequence=self._filter.stop_sequence,
            backend=backend,
        )

    def _emit(self, text: str) -> None:
        if text:
            self._parts.append(text)
            if self._on_text is not None:
                self._on_text(text)
