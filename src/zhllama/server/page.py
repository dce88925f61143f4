"""The web page at ``/``: a static page (HTML, CSS, JavaScript in ``static/``) that uses the API.

No framework and no CDN: the page works offline, loads in one round trip per file, and talks only to
this server's own routes (``/v1/status``, ``/v1/documents``, ``/v1/chat/completions`` streamed). The
page's files are served without the API key; the page asks for the key when the API answers 401
and keeps it in the browser's local storage.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount_page(app: FastAPI) -> None:
    """Serve ``static/index.html`` at ``/`` and the other files under ``/static/``."""

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
