"""Errors as the OpenAI API reports them: ``{"error": {"message", "type", "param", "code"}}`` with a status.

Every failure a client can cause or meet answers this way, whichever layer raised it, so that the
``openai`` package, LangChain and LlamaIndex show the message instead of a parse error:

- ``ApiError`` (raised by the server's own checks) carries its status;
- zhllama's library errors map by kind (``API_STATUS``): a conversation the template refuses, a
  question docqa refuses -> 400; a backend that fails while generating -> 502;
- FastAPI's validation errors (wrong types, missing fields) -> 422 naming the field;
- Starlette's HTTP errors (unknown route 404, wrong method 405, malformed JSON 400) keep their status;
- anything else -> 500 with a generic message; the traceback goes to the server's log, never to
  the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhllama.backends.protocol import BackendError
from zhllama.errors import DocQAError, TemplateError, ZhllamaError

log = logging.getLogger("zhllama.server")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "server_error",
    503: "server_error",
}

API_STATUS: dict[type[ZhllamaError], int] = {TemplateError: 400, DocQAError: 400, BackendError: 502}
FASTAPI_UNPARSABLE = "There was an error parsing the body"
"""FastAPI's 400 detail for a body it cannot decode (bytes that are not UTF-8, a broken multipart)."""
API_PARAM: dict[type[ZhllamaError], str] = {TemplateError: "messages"}
"""The status of a library error that reaches a route (the most specific class listed wins)."""


class ApiError(ZhllamaError):
    """A request the server answers with ``status`` and an OpenAI-style error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    """The JSON body of an error answer (also sent as an SSE event when a stream fails midway)."""
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


def as_api_error(exc: BaseException) -> ApiError:
    """The ``ApiError`` a client sees for ``exc`` (a generic 500 for an unexpected one)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ZhllamaError):
        for kind in type(exc).__mro__:
            if kind in API_STATUS:
                return ApiError(API_STATUS[kind], str(exc), param=API_PARAM.get(kind))
        return ApiError(400, str(exc))
    log.error("unexpected error while answering a request", exc_info=exc)
    return ApiError(500, "the server failed while answering this request; its log has the details")


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error raised in a route as an OpenAI-style error object."""

    @app.exception_handler(ZhllamaError)
    async def library_error(request: Request, exc: ZhllamaError) -> JSONResponse:
        error = as_api_error(exc)
        return error_response(error.status, error.message, error.param, error.code, error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return error_response(400, "the request body is not valid JSON", code="invalid_json")
        first = problems[0] if problems else {}
        where = _location(first)
        details = "; ".join(f"{_location(p)}: {p.get('msg', 'invalid')}" for p in problems[:5])
        return error_response(422, f"invalid request: {details}", param=where, code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status, path = exc.status_code, request.url.path
        message = {
            FASTAPI_UNPARSABLE: "the body is neither valid JSON (UTF-8) nor a valid multipart upload",
            404: f"no route {request.method} {path}",
            405: f"{request.method} is not allowed on {path}",
        }.get(exc.detail if exc.detail == FASTAPI_UNPARSABLE else status, str(exc.detail))
        code = {400: "invalid_body", 413: "request_too_large"}.get(status)
        return error_response(status, message, code=code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        error = as_api_error(exc)
        return error_response(error.status, error.message)
