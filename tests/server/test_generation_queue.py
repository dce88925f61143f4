"""The model's queue on its own: one job at a time, a bounded wait, release at the job's end, cancel."""

import asyncio
import threading
import time

import pytest

from zhllama.backends import GenerationCancelled
from zhllama.server.errors import ApiError
from zhllama.server.generation import GenerationQueue


def test_one_job_runs_at_a_time_and_a_full_line_is_refused_with_503():
    async def scenario():
        queue = GenerationQueue(max_waiting=1)
        release = threading.Event()
        first = await queue.start(lambda on_text: release.wait(10) and "first")
        waiting = asyncio.create_task(queue.start(lambda on_text: "second"))
        await asyncio.sleep(0.05)
        assert queue.running and queue.waiting == 1
        with pytest.raises(ApiError) as refused:
            await queue.start(lambda on_text: "third")
        assert refused.value.status == 503 and refused.value.code == "queue_full"
        release.set()
        assert await first.wait() == "first"
        assert await (await waiting).wait() == "second"
        return queue.status()

    status = asyncio.run(scenario())
    assert status["done"] == 2 and status["refused"] == 1 and not status["running"]


def test_the_model_is_free_when_the_job_ends_even_if_nobody_reads_its_text():
    async def scenario():
        queue = GenerationQueue(max_waiting=4)

        def talkative(on_text):
            for piece in "一二三四五六七八九十" * 50:
                on_text(piece)
            return "talkative"

        unread = await queue.start(talkative)  # its 500 pieces are never read here
        started = time.perf_counter()
        nxt = await asyncio.wait_for(queue.start(lambda on_text: "next"), timeout=10)
        assert await nxt.wait() == "next" and time.perf_counter() - started < 10
        pieces = [piece async for piece in unread.pieces()]  # buffered, all of them, in order
        assert "".join(pieces) == "一二三四五六七八九十" * 50 and unread.result == "talkative"

    asyncio.run(scenario())


def test_cancel_ends_the_job_at_its_next_piece_and_frees_the_model():
    async def scenario():
        queue = GenerationQueue()
        pieces_sent = []

        def endless(on_text):
            while True:
                on_text("字")
                pieces_sent.append(1)
                time.sleep(0.01)

        generation = await queue.start(endless)
        async for _ in generation.pieces():
            generation.cancel()
            break
        with pytest.raises(GenerationCancelled):
            async for _ in generation.pieces():
                pass
        assert generation.outcome == "cancelled" and not queue.running
        sent = len(pieces_sent)
        await asyncio.sleep(0.1)
        assert len(pieces_sent) == sent  # the job really stopped
        return queue.status()

    assert asyncio.run(scenario())["cancelled"] == 1


def test_a_failing_job_raises_where_its_text_is_read_and_frees_the_model():
    async def scenario():
        queue = GenerationQueue()

        def broken(on_text):
            on_text("半")
            raise ValueError("the runtime broke")

        generation = await queue.start(broken)
        with pytest.raises(ValueError, match="runtime broke"):
            await generation.wait()
        after = await queue.start(lambda on_text: "fine")
        assert await after.wait() == "fine"
        return queue.status()

    status = asyncio.run(scenario())
    assert status["failed"] == 1 and status["done"] == 1
