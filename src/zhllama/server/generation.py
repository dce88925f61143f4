"""The model's queue: one generation at a time, a bounded line of waiting requests, cancellation.

A local model runs one generation at a time (its backend serialises calls anyway); the server
makes the wait explicit and bounded instead of piling threads up behind the backend's lock:

- ``GenerationQueue.start(job)`` waits for the model, then runs ``job(on_text)`` on the queue's one
  worker thread and returns the running ``Generation``. When ``max_waiting`` requests are already waiting, it
  refuses at once with 503 (``queue_full``, ``Retry-After``), which OpenAI clients retry.
- The model is released when the *job* ends, not when its client has read the reply: pieces are
  buffered on the event loop, so a client that reads slowly (or not at all) delays nobody.
- ``Generation.cancel()`` makes the job's next ``on_text`` raise ``GenerationCancelled``, which
  ends the generation within one token (``Backend.complete``'s contract); the routes call it when
  their client disconnects. ``until_disconnected`` runs a wait or a whole non-streamed generation
  while watching the connection.

Why not ``backends.streaming.stream_reply``: its generation lives only as long as its consumer
reads (it is joined when the iterator closes), which is right for a library caller and wrong for
a server whose model must go to the next request when the reply is done; and a docqa answer is
several backend calls (refine), not one ``complete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from starlette.requests import Request

from zhllama.backends.protocol import GenerationCancelled
from zhllama.server.errors import ApiError

T = TypeVar("T")
OnText = Callable[[str], None]
Job = Callable[[OnText], T]


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


class Generation(Generic[T]):
    """One job on its worker thread; its text as it comes (``pieces``), then its result."""

    def __init__(self, job: Job[T], on_end: Callable[[str], None], worker: ThreadPoolExecutor) -> None:
        self._job = job
        self._on_end = on_end
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._cancelled = threading.Event()
        self.outcome: str | None = None  # "done", "cancelled" or "failed" once the job has ended
        self._end: tuple[str, Any] = ("running", None)
        worker.submit(self._run)

    def cancel(self) -> None:
        """Stop the job at its next piece of text (no effect once it has ended)."""
        self._cancelled.set()

    def _on_text(self, text: str) -> None:
        """The job's callback: ``""`` only checks for cancellation (a step whose text is not shown)."""
        if self._cancelled.is_set():
            raise GenerationCancelled
        if text:
            self._post(("text", text))

    def _run(self) -> None:
        try:
            event: tuple[str, Any] = ("done", self._job(self._on_text))
        except GenerationCancelled:
            event = ("cancelled", None)
        except BaseException as exc:  # handed to the route, which answers with it
            event = ("failed", exc)
        self._post(event, end=True)

    def _post(self, event: tuple[str, Any], end: bool = False) -> None:
        def deliver() -> None:
            self._events.put_nowait(event)
            if end:
                self.outcome = event[0]
                self._on_end(event[0])

        with contextlib.suppress(RuntimeError):  # a closed event loop: the server is shutting down
            self._loop.call_soon_threadsafe(deliver)

    async def pieces(self) -> AsyncIterator[str]:
        """The job's text as produced; ends when the job does. A job's exception is raised here,
        a cancelled job raises ``GenerationCancelled``; ``result`` is then available."""
        while True:
            kind, value = await self._events.get()
            if kind == "text":
                yield value
                continue
            self._end = (kind, value)
            if kind == "failed":
                raise value
            if kind == "cancelled":
                raise GenerationCancelled
            return

    @property
    def result(self) -> T:
        """The job's return value, once ``pieces`` has ended."""
        return self._end[1]

    async def wait(self) -> T:
        """Run to the end, ignoring the pieces, and return the job's result."""
        async for _ in self.pieces():
            pass
        return self.result


class GenerationQueue:
    """One generation at a time; at most ``max_waiting`` requests wait for their turn."""

    def __init__(self, max_waiting: int = 16) -> None:
        self.max_waiting = max_waiting
        self.waiting = 0
        self.running = False
        self.counts: Counter[str] = Counter()
        self._lock: asyncio.Lock | None = None
        self._current: Generation | None = None
        # one long-lived thread runs every job (one runs at a time): no thread started per request
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhllama-generation")

    async def start(self, job: Job[T]) -> Generation[T]:
        """Wait for the model and start ``job`` on it; 503 at once when the line is full."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        if self._lock.locked() and self.waiting >= self.max_waiting:
            self.counts["refused"] += 1
            raise ApiError(
                503,
                f"the model is busy and {self.waiting} requests are already waiting (the server's "
                "--max-queue): retry in a moment",
                code="queue_full",
                headers={"Retry-After": "1"},
            )
        self.waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self.waiting -= 1
        self.running = True  # no await from here on: the lock is handed to the generation
        self._current = Generation(job, self._release, self._worker)
        return self._current

    def _release(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self.running = False
        self._current = None
        assert self._lock is not None
        self._lock.release()

    def shutdown(self) -> None:
        """Cancel the running generation and let its thread go (server shutdown)."""
        if self._current is not None:
            self._current.cancel()
        self._worker.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "waiting": self.waiting,
            "max_waiting": self.max_waiting,
            **{key: self.counts[key] for key in ("done", "cancelled", "failed", "refused")},
        }


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnected(request: Request, awaitable: Any) -> Any:
    """Await ``awaitable`` unless the client disconnects first: then cancel it, raise ``ClientGone``."""
    task = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        raise ClientGone from None
