"""The FastAPI application: the routes, the guards, OpenAI-style errors, the page.

``create_app(state)`` wires a ``ServerState`` (model, documents, queue, limits) into one ASGI app;
``zhllama serve`` runs it with uvicorn, tests run it the same way on a free port. FastAPI's own
documentation pages are off (they load their scripts from a CDN); the schema stays at
``/openapi.json``. ``GET /v1/status`` says what this server was started with, for the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from zhllama import __version__
from zhllama.server import docqa_routes, openai_routes
from zhllama.server.errors import install_error_handlers
from zhllama.server.guards import Guards
from zhllama.server.page import mount_page
from zhllama.server.state import ServerState, server_state


def create_app(state: ServerState) -> FastAPI:
    """The server's ASGI application over ``state``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.queue.shutdown()
        if state.jobs is not None:
            state.jobs.shutdown()

    app = FastAPI(
        title="zhllama",
        version=__version__,
        summary="OpenAI-compatible API and document QA for the Chinese-LLaMA-2 / Chinese-Alpaca-2 family",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.zhllama = state
    install_error_handlers(app)

    @app.get("/v1/status", tags=["documents"])
    async def status(request: Request) -> dict[str, Any]:
        """The model, the store (and how many chunks it holds) and the generation queue."""
        return await run_in_threadpool(server_state(request).status)

    app.include_router(openai_routes.router)
    app.include_router(docqa_routes.router)
    mount_page(app)
    app.add_middleware(
        Guards,
        api_key=state.api_key,
        max_body_bytes=state.max_body_bytes,
        max_upload_bytes=state.max_upload_bytes,
    )
    return app
