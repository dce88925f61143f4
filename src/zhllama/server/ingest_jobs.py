"""Ingesting uploaded files in the background, one job at a time, with progress a page can poll.

``POST /v1/documents`` saves the files and answers at once with a job (202); the job runs
``docqa.ingest.ingest`` on those files only (so no other document is touched) on one worker thread
(the store's writers' lock serialises ingests anyway) and reports each file as ingest finishes it:
``files_done`` of ``files_total``, and per file its action (added, updated, unchanged, skipped with
the reason). The last ``KEEP_JOBS`` jobs are kept for ``GET /v1/documents/jobs/{id}``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.errors import ZhllamaError
from zhllama.server.errors import ApiError
from zhllama.server.library import Library, document_id

KEEP_JOBS = 100
log = logging.getLogger("zhllama.server")


@dataclass
class IngestJob:
    """One ingest of uploaded files: ``status`` is queued, running, done or failed."""

    id: str
    paths: list[Path]
    status: str = "queued"
    created: float = field(default_factory=time.time)
    files: list[dict[str, Any]] = field(default_factory=list)
    chunks_written: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "ingest.job",
            "status": self.status,
            "created": int(self.created),
            "files_total": len(self.paths),
            "files_done": len(self.files),
            "files": list(self.files),
            "chunks_written": self.chunks_written,
            "error": self.error,
        }


class IngestJobs:
    """Runs ingest jobs over one ``Library`` in submission order."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhllama-ingest")

    def submit(self, paths: list[Path]) -> IngestJob:
        job = IngestJob(id=f"ingest-{uuid.uuid4().hex[:16]}", paths=paths)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
        self._worker.submit(self._run, job)
        return job

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no ingest job {job_id!r} (the server keeps the last {KEEP_JOBS})")
        return job

    def shutdown(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: IngestJob) -> None:
        from zhllama.docqa.ingest import ingest

        library = self.library
        job.status = "running"

        def on_file(path: Path, report: Any) -> None:
            job.files.append(
                {
                    "name": path.name,
                    "document": document_id(report.path),
                    "action": report.action,
                    "chunks": report.chunks,
                    "reason": report.reason,
                }
            )

        try:
            report = ingest(
                job.paths,
                library.store,
                library.count_tokens,
                library.split_settings,
                library.encoder,
                on_file=on_file,
            )
        except ZhllamaError as exc:
            job.error, job.status = str(exc), "failed"
            return
        except Exception as exc:  # reported to the page; the details go to the log
            log.error("ingest job %s failed", job.id, exc_info=exc)
            job.error, job.status = (
                f"the ingest failed unexpectedly ({type(exc).__name__}); see the server log",
                "failed",
            )
            return
        job.chunks_written = report.chunks_written
        job.status = "done"
