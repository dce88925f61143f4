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

import json
import os
import threading
import urllib.error
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
        timeout: float = 600.0,
        schema_style: SchemaStyle = "openai",
    ) -> None:
        if prompt_format not in PROMPT_FORMATS:
            raise BackendError(
                f"unknown prompt_format {prompt_format!r}: use one of {', '.join(PROMPT_FORMATS)}"
            )
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
        self._model = model
        self._context_window = context_window
        self._models: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # -- what the server says about itself -----------------------------------------------------
    def _listed_models(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._models is None:
                self._models = list(self._request("GET", "/models").get("data") or [])
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
                if entry.get("id") == self.model and entry.get("max_model_len"):
                    self._context_window = int(entry["max_model_len"])
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
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or []:
                text = (choice.get("delta") or {}).get("content") if path == "/chat/completions" else None
                text = choice.get("text", "") if text is None else text
                pieces += bool(text)
                finish = choice.get("finish_reason") or finish
                if reply.push(text or ""):
                    break
            if reply.stopped:
                break  # closing the stream ends the generation on the server
        prompt_tokens = int(usage["prompt_tokens"]) if usage else len(request.ids)
        # servers that report no usage stream one piece per token (a split character aside)
        generated = int(usage["completion_tokens"]) if usage else pieces
        return ("stop" if finish == "stop" else "length"), prompt_tokens, generated

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.schema_style == "llama-cpp-python":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}

    def _prompt_text(self, messages: Messages, template: Template) -> str:
        for message in messages:
            typed = [s for s in (template.bos, template.eos) if s in str(message.get("content", ""))]
            if typed:
                raise BackendError(
                    f"a {message.get('role')} message holds {typed[0]!r}: with prompt_format='text' the "
                    "server would read it as a control token. Use prompt_format='ids' (vLLM, llama-server) "
                    "or 'chat' (python -m zhllama.backends.llama_cpp_server)"
                )
        return template.render(messages)

    # -- HTTP ----------------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:800]
            hint = ""
            if body is not None and isinstance(body.get("prompt"), list) and "prompt" in detail:
                hint = (
                    " This server does not take token ids as the prompt (llama-cpp-python's server takes "
                    "only text): use prompt_format='chat' with python -m zhllama.backends.llama_cpp_server, "
                    "or prompt_format='text'."
                )
            raise BackendError(
                f"{method} {self.base_url}{path} failed with HTTP {exc.code}: {detail}.{hint}"
            ) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise BackendError(
                f"cannot reach the server at {self.base_url} ({exc}): is it running, and is base_url the "
                "address ending in /v1?"
            ) from exc

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._open(method, path, body) as response:
            return json.load(response)

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Server-sent events of a streamed completion, as dicts, until ``[DONE]``."""
        with self._open("POST", path, body) as response:
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    raise BackendError(f"the server at {self.base_url} reported an error: {event['error']}")
                yield event
