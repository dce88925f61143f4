"""The server backend: any OpenAI-compatible server (vLLM, llama.cpp's server, llama-cpp-python's
server, text-generation-webui's API), spoken to with the standard library's HTTP client.

``prompt_format`` says how the conversation reaches the server:

- ``"ids"`` (default): ``POST /v1/completions`` with ``prompt`` = the token-id list from
  ``encode_messages``. vLLM and llama.cpp's own ``llama-server`` accept a list of ints; the server
  adds nothing, so the model sees exactly zhllama's ids (also sidestepping vLLM's converted
  tokenizer, which segments a quarter of Chinese lines differently). llama-cpp-python's server does
  *not* accept ids (its ``prompt`` is ``str | list[str]``): it answers 422 and the error says what to use.
- ``"chat"``: ``POST /v1/chat/completions`` with the messages; the server applies its chat
  template. Right only when that template is ours: llama-cpp-python's server started through
  ``python -m zhllama.backends.llama_cpp_server`` (``--chat_format chinese-alpaca-2``, which also
  encodes typed control strings as text), or vLLM / webui serving a model folder whose
  ``tokenizer_config.json`` holds our ``chat_template`` (``zhllama template export --format hf``).
- ``"text"``: ``POST /v1/completions`` with the rendered prompt text; the server adds BOS and
  tokenizes it itself, parsing ``</s><s>`` between turns as control tokens, as it must, but also
  any typed by a user: a message holding the template's BOS/EOS strings is refused in this mode.

Sampling goes as ``temperature``/``top_p``/``top_k``/``max_tokens`` plus both spellings of the
repetition penalty (``repetition_penalty`` for vLLM, ``repeat_penalty`` for llama.cpp) and
``min_p`` 0; servers ignore the fields they do not know. Stop sequences are applied here, on the
streamed text, as on every backend (the server's own stop handling would hide which stop ended the
reply); the stream is closed at the first one, which ends the generation on the server.

A JSON schema (structured output) goes as ``response_format``; ``schema_style`` says in which shape:
``"openai"`` (default) is OpenAI's ``{"type": "json_schema", "json_schema": {"name", "schema",
"strict"}}``, which vLLM (chat and completions, its structured outputs), llama.cpp's ``llama-server``
and OpenAI take; ``"llama-cpp-python"`` is ``{"type": "json_object", "schema": ...}``, the only shape
llama-cpp-python's server takes (chat only; it turns the schema into llama.cpp's grammar).
"""

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, Literal

from zhllama.backends.base import BackendBase, GenerationRequest
from zhllama.backends.protocol import BackendError, FinishReason, Messages
from zhllama.backends.reply import ReplyBuilder
from zhllama.core.templates import Template

PromptFormat = Literal["ids", "chat", "text"]
PROMPT_FORMATS = ("ids", "chat", "text")
SchemaStyle = Literal["openai", "llama-cpp-python"]
SCHEMA_STYLES = ("openai", "llama-cpp-python")
DEFAULT_TIMEOUT = 300.0
"""Seconds to wait for the server to connect, answer, or send the next piece of a stream."""


def check_base_url(base_url: str) -> None:
    """Refuse, with what to pass instead, a base URL that is not ``http(s)://host[:port]/...``."""
    try:
        parsed = urllib.parse.urlsplit(str(base_url))
        parsed.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise BackendError(
            f"`openai_base_url` {base_url!r} is not a URL ({exc}): e.g. http://127.0.0.1:8000/v1"
        ) from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BackendError(
            f"`openai_base_url` {base_url!r} is not an http(s) URL with a host: e.g. http://127.0.0.1:8000/v1"
        )


def _listing(answer: Any, where: str) -> list[dict[str, Any]]:
    """The ``data`` of a ``/models`` answer, each entry a dict with a string ``id``."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("id"), str) for entry in data
    ):
        raise BackendError(
            f"{where} did not answer like an OpenAI-compatible server ({str(answer)[:120]!r} is not "
            '{"data": [{"id": ...}, ...]}): check the URL, which must end in /v1'
        )
    return data


class OpenAICompatibleBackend(BackendBase):
    """Generate through an OpenAI-compatible server at ``base_url`` (ending in ``/v1``).

    ``tokenizer`` is the model's exact tokenizer or a folder holding its ``tokenizer.model``: it
    builds the ids and counts tokens locally. ``model`` defaults to the first model the server
    lists; ``context_window`` to the ``max_model_len`` vLLM reports (other servers: pass it).
    """

    name = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        tokenizer: Any,
        *,
        model: str | None = None,
        prompt_format: PromptFormat = "ids",
        context_window: int | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        schema_style: SchemaStyle = "openai",
        max_retries: int = 0,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise BackendError(f"`max_retries` must be a whole number >= 0, got {max_retries!r}")
        if prompt_format not in PROMPT_FORMATS:
            raise BackendError(
                f"unknown `prompt_format` {prompt_format!r}: use one of {', '.join(PROMPT_FORMATS)}"
            )
        check_base_url(base_url)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < float("inf")
        ):
            raise BackendError(f"`timeout` must be a positive number of seconds, got {timeout!r}")
        if schema_style not in SCHEMA_STYLES:
            raise BackendError(
                f"unknown schema_style {schema_style!r}: use one of {', '.join(SCHEMA_STYLES)}"
            )
        if schema_style == "llama-cpp-python" and prompt_format != "chat":
            raise BackendError(
                "schema_style='llama-cpp-python' needs prompt_format='chat': llama-cpp-python's server takes "
                "a response_format on /v1/chat/completions only"
            )
        if isinstance(tokenizer, (str, os.PathLike)):
            from zhllama.core.tokenizer import load_tokenizer

            tokenizer = load_tokenizer(tokenizer)
        self.base_url = base_url.rstrip("/")
        self.tokenizer = tokenizer
        self.prompt_format = prompt_format
        self.schema_style = schema_style
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self._model = model
        self._context_window = context_window
        self._models: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # -- what the server says about itself -----------------------------------------------------
    def _listed_models(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._models is None:
                self._models = _listing(self._request("GET", "/models"), f"{self.base_url}/models")
            return self._models

    @property
    def model(self) -> str:
        if self._model is None:
            models = self._listed_models()
            if not models:
                raise BackendError(f"{self.base_url}/models lists no model: pass model=NAME")
            self._model = str(models[0]["id"])
        return self._model

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def context_window(self) -> int:
        if self._context_window is None:
            for entry in self._listed_models():
                length = entry.get("max_model_len")
                if entry.get("id") == self.model and isinstance(length, int) and length > 0:
                    self._context_window = length
                    break
            else:
                raise BackendError(
                    f"{self.base_url} does not report the model's context length (only vLLM does): pass "
                    "context_window=N, the server's context size"
                )
        return self._context_window

    # -- generation ----------------------------------------------------------------------------
    def _generate(self, request: GenerationRequest, reply: ReplyBuilder) -> tuple[FinishReason, int, int]:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": 0.0 if request.greedy else sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": 1 if request.greedy else sampling.top_k,
            "min_p": 0.0,
            "repetition_penalty": sampling.repetition_penalty,
            "repeat_penalty": sampling.repetition_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = self._response_format(request.json_schema)
        if self.prompt_format == "chat":
            path = "/chat/completions"
            body["messages"] = [{"role": m["role"], "content": m["content"]} for m in request.messages]
        else:
            path = "/completions"
            text = self.prompt_format == "text"
            body["prompt"] = self._prompt_text(request.messages, request.template) if text else request.ids

        finish, usage, pieces = "length", None, 0
        for event in self._stream(path, body):
            usage = _usage(event) or usage
            for choice in _choices(event, self.base_url + path):
                text = _choice_text(choice, chat=path == "/chat/completions")
                pieces += bool(text)
                finish = choice.get("finish_reason") or finish
                if reply.push(text):
                    break
            if reply.stopped:
                break  # closing the stream ends the generation on the server
        prompt_tokens = usage["prompt_tokens"] if usage else len(request.ids)
        # servers that report no usage stream one piece per token (a split character aside)
        generated = usage["completion_tokens"] if usage else pieces
        return ("stop" if finish == "stop" else "length"), prompt_tokens, generated

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.schema_style == "llama-cpp-python":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}

    def _prompt_text(self, messages: Messages, template: Template) -> str:
        controls = {template.bos, template.eos} | {
            token
            for token in (
                getattr(self.tokenizer, name, None) for name in ("bos_token", "eos_token", "unk_token")
            )
            if isinstance(token, str) and token
        }
        for message in messages:
            typed = sorted(s for s in controls if s in str(message.get("content", "")))
            if typed:
                raise BackendError(
                    f"a {message.get('role')} message holds {typed[0]!r}: with prompt_format='text' the "
                    "server would read it as a control token. Use prompt_format='ids' (vLLM, llama-server) "
                    "or 'chat' (python -m zhllama.backends.llama_cpp_server)"
                )
        return template.render(messages)

    # -- HTTP ----------------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The server's response to a request; a request the server did not take (it could not be
        reached, or it answered 408, 429 or 5xx) is sent again up to ``max_retries`` times, after
        0.5 s, 1 s, 2 s... A reply that fails once it has begun is never sent again."""
        attempt = 0
        while True:
            try:
                return self._open_once(method, path, body)
            except _NotTaken:
                if attempt >= self.max_retries:
                    raise
                time.sleep(min(8.0, 0.5 * 2**attempt))
                attempt += 1

    def _open_once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read().decode("utf-8", errors="replace")[:800]
            except (OSError, http.client.HTTPException):
                detail = exc.reason
            hint = ""
            if body is not None and isinstance(body.get("prompt"), list) and "prompt" in detail:
                hint = (
                    " This server does not take token ids as the prompt (llama-cpp-python's server takes "
                    "only text): use prompt_format='chat' with python -m zhllama.backends.llama_cpp_server, "
                    "or prompt_format='text'."
                )
            elif body is not None and "response_format" in body and exc.code in (400, 422):
                other = "openai" if self.schema_style == "llama-cpp-python" else "llama-cpp-python"
                hint = (
                    f" If the server did not take the JSON schema's response_format (sent in the "
                    f"{self.schema_style!r} shape), try schema_style={other!r}: llama-cpp-python's server "
                    "takes only that shape, with prompt_format='chat'."
                )
            error = _NotTaken if exc.code in _RETRIED_STATUSES else BackendError
            raise error(
                f"{method} {self.base_url}{path} failed with HTTP {exc.code}: {detail}.{hint}"
            ) from exc
        except ValueError as exc:  # a URL urllib cannot use: sending it again changes nothing
            raise BackendError(
                f"cannot use the address {self.base_url} ({exc}): check `openai_base_url`"
            ) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise _NotTaken(
                f"cannot reach the server at {self.base_url} ({exc}): is it running, and is "
                f"`openai_base_url` the address ending in /v1? (waited up to {self.timeout:g}s, `timeout`)"
            ) from exc

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._open(method, path, body) as response:
            return self._json(self._read(response.read), method, path)

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Server-sent events of a streamed completion, as dicts, until ``[DONE]``."""
        with self._open("POST", path, body) as response:
            while raw := self._read(response.readline):
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[len(b"data:") :].strip()
                if data == b"[DONE]":
                    return
                event = self._json(data, "POST", path)
                if not isinstance(event, dict):
                    raise BackendError(f"POST {self.base_url}{path} streamed {event!r}, not an event object")
                if "error" in event:
                    raise BackendError(f"the server at {self.base_url} reported an error: {event['error']}")
                yield event

    def _read(self, read: Any) -> bytes:
        """``read()`` of the response, with a server that stops mid-answer turned into a clear error."""
        try:
            return read()
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise BackendError(
                f"the server at {self.base_url} stopped answering ({type(exc).__name__}: {exc}); "
                f"waited up to {self.timeout:g}s (`timeout`)"
            ) from exc

    def _json(self, raw: bytes, method: str, path: str) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problem = "is not UTF-8 text"
        except json.JSONDecodeError:
            problem = "is not JSON"
        raise BackendError(
            f"the answer to {method} {self.base_url}{path} {problem} ({raw[:80]!r}): is `openai_base_url` an "
            "OpenAI-compatible server (the address ending in /v1)?"
        )


_RETRIED_STATUSES = {408, 429, 500, 502, 503, 504}


class _NotTaken(BackendError):
    """The server did not take the request (unreachable, or busy or failing): it may be sent again."""


def _usage(event: dict[str, Any]) -> dict[str, int] | None:
    """An event's token counts, when it carries well-formed ones."""
    usage = event.get("usage")
    if isinstance(usage, dict) and all(
        isinstance(usage.get(k), int) for k in ("prompt_tokens", "completion_tokens")
    ):
        return usage
    return None


def _choices(event: dict[str, Any], where: str) -> list[dict[str, Any]]:
    choices = event.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise BackendError(f"{where} streamed choices {str(choices)[:120]!r}, not a list of objects")
    return choices


def _choice_text(choice: dict[str, Any], chat: bool) -> str:
    """The text a streamed choice adds (``delta.content`` in chat, ``text`` otherwise); "" for none."""
    delta = choice.get("delta")
    text = delta.get("content") if chat and isinstance(delta, dict) else None
    text = choice.get("text") if text is None else text
    return text if isinstance(text, str) else ""
