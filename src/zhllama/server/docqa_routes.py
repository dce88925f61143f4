"""Document routes: upload and ingest (with progress), list, delete, and search without a model.

- ``POST /v1/documents`` (multipart, field ``files``, one or more): saves each file under its name
  and answers 202 with an ingest job; ``GET /v1/documents/jobs/{id}`` reports its progress.
- ``GET /v1/documents``; ``GET`` / ``DELETE /v1/documents/{id}``.
- ``POST /v1/search`` ``{"query", "k"}``: the passages retrieval finds, with citations and scores.

Chroma and the encoders are blocking libraries: their calls run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from zhllama.server.docqa_chat import source_dict
from zhllama.server.errors import ApiError
from zhllama.server.schemas import SearchRequest
from zhllama.server.state import server_state

router = APIRouter(prefix="/v1", tags=["documents"])

MAX_FILES = 100


@router.get("/documents")
async def list_documents(request: Request) -> dict[str, Any]:
    library = server_state(request).require_library()
    return {"object": "list", "data": await run_in_threadpool(library.documents)}


@router.post("/documents", status_code=202)
async def upload_documents(request: Request, files: Annotated[list[UploadFile], File()]) -> JSONResponse:
    """Save the uploaded files and start ingesting them; poll the job for progress."""
    state = server_state(request)
    library = state.require_library()
    if not files or len(files) > MAX_FILES:
        raise ApiError(400, f"send 1 to {MAX_FILES} files in the `files` field", param="files")
    paths = []
    for upload in files:
        data = await upload.read()
        paths.append(await run_in_threadpool(library.save_upload, upload.filename, data))
    assert state.jobs is not None  # a library always comes with its jobs
    job = state.jobs.submit(sorted(set(paths)))
    return JSONResponse(job.as_dict(), status_code=202)


@router.get("/documents/jobs/{job_id}")
async def ingest_job(job_id: str, request: Request) -> dict[str, Any]:
    state = server_state(request)
    state.require_library()
    assert state.jobs is not None
    return state.jobs.get(job_id).as_dict()


@router.get("/documents/{document_id}")
async def get_document(document_id: str, request: Request) -> dict[str, Any]:
    library = server_state(request).require_library()
    return await run_in_threadpool(library.document, document_id)


@router.delete("/documents/{document_id}")
async def delete_document(document_id: str, request: Request) -> dict[str, Any]:
    library = server_state(request).require_library()
    return await run_in_threadpool(library.remove, document_id)


@router.post("/search")
async def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    """The ``k`` passages that best answer ``query`` (Simplified or Traditional), best first."""
    library = server_state(request).require_library()
    hits = await run_in_threadpool(library.search, body.query, body.k)
    return {"object": "list", "query": body.query, "data": [source_dict(hit) for hit in hits]}
