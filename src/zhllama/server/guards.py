"""What every request passes before a route: the API key, and the size limit on its body.

An ASGI middleware, so that it runs before FastAPI reads a byte of the body:

- with an API key set, every path but the page (``/`` and ``/static/...``) needs
  ``Authorization: Bearer KEY`` (compared in constant time); otherwise 401, as OpenAI answers;
- a body larger than the limit (``Content-Length``, or counted as it arrives when chunked) is
  refused with 413 before it is read: uploads (``POST /v1/documents``) have their own, larger limit.
"""

from __future__ import annotations

import json
import secrets

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhllama.server.errors import error_body

UPLOAD_PATH = "/v1/documents"
BASE_BODY_BYTES = 64 << 10
BODY_BYTES_PER_TOKEN = 32
"""A token of Chinese text is about 1.6 characters, 3 bytes each in UTF-8 and 6 as JSON's ``\\uXXXX``:
32 bytes a token holds a full context of escaped text with room for the request's other fields."""


def body_limit(context_window: int | None) -> int:
    """The most bytes a JSON request body may have: what a full context window can need, no more."""
    return BASE_BODY_BYTES + BODY_BYTES_PER_TOKEN * (context_window or 32768)


def is_public(path: str) -> bool:
    """The page's own files, served without the key (the page asks for it)."""
    return path == "/" or path.startswith("/static/")


class Guards:
    """Checks the API key and bounds the body of every HTTP request to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None,
        max_body_bytes: int,
        max_upload_bytes: int,
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = self.api_key
        if key is not None and not is_public(scope["path"]) and not self._authorised(scope, key):
            await _answer(
                send,
                401,
                "missing or wrong API key: send the header `Authorization: Bearer KEY` with the key the "
                "server was started with (--api-key or $ZHLLAMA_API_KEY)",
                "invalid_api_key",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, 413, _too_large(limit, upload), "request_too_large")
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit, upload))
            return message

        await self.app(scope, counting_receive, send)

    @staticmethod
    def _authorised(scope: Scope, key: str) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and secrets.compare_digest(token.strip(), key.encode())
        return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int, upload: bool) -> str:
    if upload:
        return (
            f"the upload is larger than this server accepts ({limit:,} bytes; the server's --max-upload-mb)"
        )
    return (
        f"the body is larger than this server accepts ({limit:,} bytes, room for the model's whole context "
        "window): shorten the messages"
    )


async def _answer(
    send: Send, status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(error_body(status, message, code=code)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
