"""What one server serves: the model (or none), the documents (or none), the queue, the limits.

Routes reach it as ``request.app.state.zhllama``; ``model_named`` and ``require_library`` turn a
missing model or store into the answer a client can act on (404 for a model id this server does
not serve, 503 for a part it was started without, each naming the option that provides it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from zhllama.server.errors import ApiError
from zhllama.server.generation import GenerationQueue
from zhllama.server.ingest_jobs import IngestJobs
from zhllama.server.library import Library
from zhllama.server.model import ServedModel

DOCQA_MODEL = "zhllama-docqa"
"""The model id whose chat completions answer from the documents (upstream's QA prompt, sources)."""

NO_MODEL = "this server was started without a model (--no-model): start it with --model DIR or --gguf FILE"
NO_LIBRARY = "this server has no document store: start it with --db DIR (or --chroma-url URL)"


@dataclass
class ServerState:
    """Everything the routes share. ``max_body_bytes`` bounds JSON bodies, ``max_upload_bytes`` uploads."""

    model: ServedModel | None
    library: Library | None
    api_key: str | None = None
    queue: GenerationQueue = field(default_factory=GenerationQueue)
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 64 << 20
    jobs: IngestJobs | None = None

    def __post_init__(self) -> None:
        if self.library is not None and self.jobs is None:
            self.jobs = IngestJobs(self.library)

    def require_model(self) -> ServedModel:
        if self.model is None:
            raise ApiError(503, NO_MODEL, code="no_model")
        return self.model

    def require_library(self) -> Library:
        if self.library is None:
            raise ApiError(503, NO_LIBRARY, code="no_document_store")
        return self.library

    def model_ids(self) -> list[str]:
        ids = []
        if self.model is not None:
            ids.append(self.model.id)
            if self.library is not None:
                ids.append(DOCQA_MODEL)
        return ids

    def model_named(self, name: str) -> ServedModel:
        """The served model a generation request names (the docqa id included); 404 otherwise."""
        model = self.require_model()
        if name == model.id or (name == DOCQA_MODEL and self.library is not None):
            return model
        if name == DOCQA_MODEL:
            raise ApiError(404, f"`{DOCQA_MODEL}` needs documents: {NO_LIBRARY}", code="model_not_found")
        raise ApiError(
            404,
            f"this server serves {', '.join(map(repr, self.model_ids()))}, not {name!r}",
            param="model",
            code="model_not_found",
        )

    def status(self) -> dict[str, Any]:
        """What the page shows: the model, the store and how many chunks it holds, the queue."""
        library = self.library
        return {
            "model": None if self.model is None else {"id": self.model.id, **self.model.describe()},
            "context_window": None if self.model is None else self.model.context_window,
            "docqa_model": DOCQA_MODEL if DOCQA_MODEL in self.model_ids() else None,
            "store": None if library is None else library.store.location,
            "chunks": None if library is None else library.count(),
            "embedding_model": None if library is None else library.embedding_model,
            "auth": self.api_key is not None,
            "queue": self.queue.status(),
        }


def server_state(request: Request) -> ServerState:
    return request.app.state.zhllama
