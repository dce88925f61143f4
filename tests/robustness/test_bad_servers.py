"""Attacks from a bad OpenAI-compatible server: every wrong answer is a one-line error, never a
traceback, and a server that never answers is given up on after ``--timeout`` seconds."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zhllama.backends import BackendError, OpenAICompatibleBackend

GOOD_MODELS = {"data": [{"id": "m", "max_model_len": 256}]}
MODELS = {
    "html": b"<html><body>Welcome to nginx!</body></html>",
    "badjson": b'{"data": [',
    "latin1": b'{"data": [{"id": "\xff\xfe"}]}',
    "list": b"[1, 2, 3]",
    "datastring": b'{"data": "models"}',
    "noid": b'{"data": [{"name": "m"}]}',
    "empty": b'{"data": []}',
}
STREAMS = {
    "choices-string": [{"choices": "abc"}],
    "choice-number": [{"choices": [3]}],
    "text-number": [{"choices": [{"text": 5, "finish_reason": None}]}],
    "error-event": [{"error": {"message": "out of memory"}}],
    "not-json": "garbage",
    "usage-wrong": [{"choices": [{"text": "好", "finish_reason": "stop"}], "usage": {"prompt_tokens": "x"}}],
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _case(self) -> str:
        return self.path.strip("/").split("/")[0]

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        case = self._case()
        if case == "hang":
            time.sleep(5)
        if case == "http500":
            return self._send(500, b"internal error")
        self._send(200, MODELS.get(case, json.dumps(GOOD_MODELS).encode()))

    def do_POST(self):
        case = self._case()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if case.startswith("busy"):  # busy-N[-tag]: 503 to the first N completions
            _BUSY[case] = _BUSY.get(case, 0) + 1
            if _BUSY[case] <= int(case.split("-")[1]):
                return self._send(503, b"overloaded")
        if case == "no-schema" and b"response_format" in body:
            return self._send(400, b'{"detail": "unknown field response_format"}')
        if case == "cut":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'data: {"choices": [{"text": "\xe5"')
            self.wfile.flush()
            self.connection.close()
            return
        events = STREAMS.get(case, [{"choices": [{"text": "好", "finish_reason": "stop"}]}])
        if isinstance(events, str):
            body = f"data: {events}\n\n".encode()
        else:
            body = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self._send(200, body, "text/event-stream")


_BUSY: dict[str, int] = {}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (the timeout case)
        pass


@pytest.fixture(scope="module")
def bad_server():
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("case", [*MODELS, "http500"])
def test_a_wrong_models_answer_is_a_clear_error(bad_server, tokenizer_dir, refuses, case):
    refuses(
        "chat",
        "你好",
        "--openai-base-url",
        f"{bad_server}/{case}/v1",
        "--tokenizer",
        tokenizer_dir,
        says="Error",
    )


@pytest.mark.parametrize("case", [*STREAMS, "cut"])
def test_a_wrong_stream_is_a_clear_error_or_a_clean_reply(bad_server, tokenizer_dir, case):
    backend = OpenAICompatibleBackend(f"{bad_server}/{case}/v1", tokenizer_dir, timeout=2)
    try:
        completion = backend.complete([{"role": "user", "content": "你好"}])
    except BackendError as exc:
        assert str(exc)
    else:
        assert isinstance(completion.text, str) and isinstance(completion.completion_tokens, int)


def test_a_server_that_never_answers_is_given_up_on_after_the_timeout(bad_server, tokenizer_dir, refuses):
    started = time.perf_counter()
    output = refuses(
        "chat",
        "你好",
        "--openai-base-url",
        f"{bad_server}/hang/v1",
        "--tokenizer",
        tokenizer_dir,
        "--timeout",
        "1",
        says="waited up to 1s",
    )
    assert time.perf_counter() - started < 4, output


@pytest.mark.parametrize(
    "url", ["localhost:8000/v1", "http://", "ftp://example.com/v1", "http://host:port/v1", "not a url", ""]
)
def test_a_malformed_url_is_refused_before_anything_is_sent(tokenizer_dir, refuses, url):
    refuses("chat", "你好", "--openai-base-url", url, "--tokenizer", tokenizer_dir, says="Error")


def test_nobody_listening_is_a_clear_error(tokenizer_dir, refuses):
    refuses(
        "chat",
        "你好",
        "--openai-base-url",
        "http://127.0.0.1:9/v1",
        "--tokenizer",
        tokenizer_dir,
        says="cannot reach the server",
    )


def test_a_busy_server_is_asked_again_up_to_max_retries(bad_server, tokenizer_dir):
    messages = [{"role": "user", "content": "你好"}]
    patient = OpenAICompatibleBackend(f"{bad_server}/busy-2/v1", tokenizer_dir, max_retries=2)
    assert patient.complete(messages).text == "好"
    impatient = OpenAICompatibleBackend(f"{bad_server}/busy-1/v1", tokenizer_dir)
    with pytest.raises(BackendError, match="HTTP 503: overloaded"):
        impatient.complete(messages)
    with pytest.raises(BackendError, match="max_retries"):
        OpenAICompatibleBackend(f"{bad_server}/v1", tokenizer_dir, max_retries=-1)


def test_chatopenai_style_connection_arguments_reach_the_server_backend(bad_server, tokenizer_dir):
    from zhllama.adapters.langchain import ChatZhllama

    llm = ChatZhllama.from_openai_compatible(
        f"{bad_server}/busy-1-chat/v1", tokenizer_dir, api_key="sk-test", timeout=5, max_retries=1
    )
    assert (llm.backend.api_key, llm.backend.timeout, llm.backend.max_retries) == ("sk-test", 5, 1)
    assert llm.invoke("你好").content == "好"  # the one 503 was asked again
    with pytest.raises(BackendError, match="timeout once"):
        ChatZhllama.from_openai_compatible(
            f"{bad_server}/v1", tokenizer_dir, timeout=5, backend_kwargs={"timeout": 9}
        )


def test_a_server_that_refuses_the_schema_shape_is_told_the_other_one(bad_server, tokenizer_dir):
    backend = OpenAICompatibleBackend(f"{bad_server}/no-schema/v1", tokenizer_dir)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    with pytest.raises(BackendError, match="schema_style='llama-cpp-python'"):
        backend.complete([{"role": "user", "content": "你好"}], json_schema=schema)
