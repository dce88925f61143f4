"""A one-line progress display for long ingests, on stderr: files and chunks done, the rate, the ETA.

Shown only when stderr is a terminal (redirected output and pipes get nothing), redrawn at most
ten times a second and erased when the ingest ends, so the report that follows stands alone.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from zhllama.docqa.ingest import IngestProgress

REDRAW_SECONDS = 0.1


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def progress_line(progress: IngestProgress, elapsed: float) -> str:
    """``ingesting  42% | files 3/10 | 12,345 chunks, 420/s | ETA 0:01:05`` (ETA from the bytes read)."""
    share = progress.bytes_done / progress.bytes_total if progress.bytes_total else 1.0
    rate = progress.chunks / elapsed if elapsed > 0 else 0.0
    eta = _clock(elapsed * (1 - share) / share) if 0 < share < 1 and elapsed > 1 else "--:--:--"
    return (
        f"ingesting {100 * share:3.0f}% | files {progress.files_done}/{progress.files_total} | "
        f"{progress.chunks:,} chunks, {rate:,.0f}/s | ETA {eta}"
    )


class IngestProgressLine:
    """``on_progress`` for ``ingest``: a context manager that draws ``progress_line`` on ``stream``."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0

    def __call__(self, progress: IngestProgress) -> None:
        now = time.monotonic()
        if not self.interactive or now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        line = progress_line(progress, now - self.started)
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def __enter__(self) -> IngestProgressLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
