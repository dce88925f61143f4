"""Stop sequences applied to streamed text, the same way for every backend.

Runtimes disagree on stop strings (transformers needs a tokenizer-aware criterion, llama.cpp and
OpenAI-compatible servers each have their own rules for what is sent before a stop is noticed),
so zhllama applies them itself, on text: ``StopFilter.feed`` returns only text that can no longer
turn out to be the start of a stop sequence, and reports when one has appeared. The reply ends
*before* the stop sequence, as in the OpenAI API and LangChain.
"""

from collections.abc import Iterable


class StopFilter:
    """Holds back streamed text that might begin a stop sequence; cuts the reply at the first one.

    ``feed(text)`` returns the text that is safe to emit now; after a stop sequence has appeared
    ``stopped`` is true, ``stop_sequence`` names it and later calls return ``""``. ``flush()``
    returns what was held back once the stream has ended without a stop.
    """

    def __init__(self, stop: Iterable[str] = ()) -> None:
        self.stops = tuple(dict.fromkeys(s for s in stop if s))
        self._pending = ""
        self.stopped = False
        self.stop_sequence: str | None = None

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        buffer = self._pending + text
        first: tuple[int, str] | None = None
        for stop in self.stops:
            index = buffer.find(stop)
            if index >= 0 and (first is None or index < first[0]):
                first = (index, stop)
        if first is not None:
            self.stopped = True
            self.stop_sequence = first[1]
            self._pending = ""
            return buffer[: first[0]]
        hold = self._longest_stop_prefix_suffix(buffer)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return "" if self.stopped else text

    def _longest_stop_prefix_suffix(self, buffer: str) -> int:
        """Length of the longest end of ``buffer`` that is a proper prefix of some stop sequence."""
        longest = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:length]):
                    longest = length
                    break
        return longest
