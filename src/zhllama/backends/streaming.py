"""Run a backend generation in a worker thread and iterate over its text as it is produced.

``Backend.complete`` reports text through a callback; LangChain's ``_stream`` and LlamaIndex's
``stream_*`` want a generator. ``stream_reply`` bridges the two: it yields each text piece, then the
final ``Completion``. Closing the generator early (a consumer that stops reading) makes the next
callback raise ``GenerationCancelled``, which ends the generation on the backend, and waits for the
worker.
"""

import queue
import threading
from collections.abc import Iterator
from typing import Any

from zhllama.backends.protocol import Backend, Completion, GenerationCancelled, Messages


def stream_reply(backend: Backend, messages: Messages, **settings: Any) -> Iterator[str | Completion]:
    """Yield the reply's text pieces (``str``) as produced, then its ``Completion``; errors re-raise here."""
    events: queue.Queue = queue.Queue()
    abandoned = threading.Event()

    def on_text(text: str) -> None:
        if abandoned.is_set():
            raise GenerationCancelled
        events.put(("text", text))

    def work() -> None:
        try:
            events.put(("done", backend.complete(messages, on_text=on_text, **settings)))
        except GenerationCancelled:
            events.put(("cancelled", None))
        except BaseException as exc:
            events.put(("error", exc))

    worker = threading.Thread(target=work, name="zhllama-generate", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "error":
                raise value
            if kind == "cancelled":
                return
            yield value
            if kind == "done":
                return
    finally:
        abandoned.set()
        worker.join()
