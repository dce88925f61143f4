"""Run a backend generation in a worker thread and iterate over its text as it is produced.

``Backend.complete`` reports text through a callback; LangChain's ``_stream``/``_astream`` and
LlamaIndex's ``stream_*``/``astream_*`` want a generator. ``stream_reply`` (a generator) and
``astream_reply`` (an async generator) bridge the two: each yields the reply's text pieces, then the
final ``Completion``. The generation always runs in a worker thread, so an event loop awaiting
``astream_reply`` keeps running while the model computes. Closing either generator early (a consumer
that stops reading, or a cancelled task) makes the next callback raise ``GenerationCancelled``, which
ends the generation on the backend; the sync generator waits for the worker, the async one does not
block the loop for it.
"""

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from zhllama.backends.protocol import Backend, Completion, GenerationCancelled, Messages

Event = tuple[str, Any]


def _start(
    backend: Backend, messages: Messages, settings: dict[str, Any], put: Callable[[Event], None]
) -> tuple[threading.Thread, threading.Event]:
    """Start ``backend.complete`` in a worker that reports ``("text"|"done"|"cancelled"|"error", value)``."""
    abandoned = threading.Event()

    def on_text(text: str) -> None:
        if abandoned.is_set():
            raise GenerationCancelled
        put(("text", text))

    def work() -> None:
        try:
            put(("done", backend.complete(messages, on_text=on_text, **settings)))
        except GenerationCancelled:
            put(("cancelled", None))
        except BaseException as exc:
            put(("error", exc))

    worker = threading.Thread(target=work, name="zhllama-generate", daemon=True)
    worker.start()
    return worker, abandoned


def stream_reply(backend: Backend, messages: Messages, **settings: Any) -> Iterator[str | Completion]:
    """Yield the reply's text pieces (``str``) as produced, then its ``Completion``; errors re-raise here."""
    events: queue.Queue[Event] = queue.Queue()
    worker, abandoned = _start(backend, messages, settings, events.put)
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


async def astream_reply(
    backend: Backend, messages: Messages, **settings: Any
) -> AsyncIterator[str | Completion]:
    """``stream_reply`` for an event loop: awaiting the next piece never blocks the loop."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Event] = asyncio.Queue()

    def put(event: Event) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            if event[0] == "text":
                raise GenerationCancelled from None

    _, abandoned = _start(backend, messages, settings, put)
    try:
        while True:
            kind, value = await events.get()
            if kind == "error":
                raise value
            if kind == "cancelled":
                return
            yield value
            if kind == "done":
                return
    finally:
        abandoned.set()
