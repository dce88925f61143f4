"""Faults: the API key, bad bodies, unknown routes, unsupported settings, the queue, disconnects."""

import json
import socket
import threading
import time
from urllib.parse import urlparse

import httpx
import pytest
from server_process import TINY

LONG = {"model": TINY, "messages": [{"role": "user", "content": "续写：话说天下大势"}], "max_tokens": 120}


def connect(server) -> socket.socket:
    where = urlparse(server.url)
    return socket.create_connection((where.hostname, where.port), timeout=30)


def chat_request(server, payload: dict) -> bytes:
    """The raw bytes of an authorised ``POST /v1/chat/completions`` with ``payload``."""
    body = json.dumps(payload).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {server.api_key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def raw_request(server, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (request line and headers) and ``body`` on a socket; return the status and the reply."""
    with connect(server) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < _length(reply):
            reply += sock.recv(65536)
    return int(reply.split(b" ", 2)[1]), reply


def _length(reply: bytes) -> int:
    for line in reply.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def wait_for(condition, timeout=60.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.05)


# -- the API key ---------------------------------------------------------------------------------------


def test_every_route_but_the_page_needs_the_api_key(served):
    bare = httpx.Client(base_url=served.url, timeout=30)
    wrong = httpx.Client(base_url=served.url, headers={"Authorization": "Bearer nope"}, timeout=30)
    for path in ("/v1/models", "/v1/status", "/openapi.json", "/v1/documents", "/no/such/route"):
        response = bare.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert response.headers["www-authenticate"] == "Bearer"
        assert wrong.get(path).status_code == 401
    assert bare.get("/").status_code == 200 and "<html" in bare.get("/").text
    assert bare.get("/static/app.js").status_code == 200
    with served.client() as client:
        assert client.get("/v1/models").status_code == 200


# -- bad requests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"model": "tiny-zh-llama", "messages": "hi"}', 422, "messages"),
        (b'{"model": "tiny-zh-llama", "messages": [{"role": "tool", "content": "x"}]}', 422, "role"),
        (
            b'{"model": "tiny-zh-llama", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
            422,
            "max_tokens",
        ),
        (b'{"model": "tiny-zh-llama", "messages": [{"role": "user", "content": "x"}], "n": 2}', 400, "`n`"),
        (
            b'{"model": "tiny-zh-llama", "messages": [{"role": "user", "content": "x"}], "tools": [{}]}',
            400,
            "`tools`",
        ),
        (b'{"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}', 404, "tiny-zh-llama"),
        (
            b'{"model": "tiny-zh-llama", "messages": [{"role": "assistant", "content": "x"}]}',
            400,
            "alternate",
        ),
        (b"[]", 422, "body"),
        (b"\xff\xfe\x00", 400, "valid JSON"),
    ],
)
def test_bad_bodies_get_openai_style_errors_with_the_right_status(served, body, status, says):
    with served.client() as client:
        response = client.post(
            "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert says in error["message"] and error["type"] and "Traceback" not in response.text


def test_unknown_routes_and_methods_are_404_and_405(served):
    with served.client() as client:
        missing = client.get("/v1/engines")
        method = client.delete("/v1/chat/completions")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no route GET /v1/engines"
    assert method.status_code == 405 and "DELETE" in method.json()["error"]["message"]


def test_bodies_over_the_limit_are_refused_before_they_are_read(served):
    auth = f"Authorization: Bearer {served.api_key}"
    declared = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, reply = raw_request(served, declared + f"{auth}\r\nContent-Length: 50000000")
    assert status == 413 and b"request_too_large" in reply
    upload = "POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    status, reply = raw_request(served, upload + f"{auth}\r\nContent-Length: {200 << 20}")
    assert status == 413 and b"--max-upload-mb" in reply
    huge = (
        b'{"model": "tiny-zh-llama", "messages": [{"role": "user", "content": "'
        + "长".encode() * 100_000
        + b'"}]}'
    )
    with served.client() as client:  # chunked: no length declared, counted as it arrives
        chunked = client.post(
            "/v1/chat/completions", content=iter([huge[i : i + 8192] for i in range(0, len(huge), 8192)])
        )
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "request_too_large"


# -- the queue ---------------------------------------------------------------------------------------


def test_a_client_that_disconnects_cancels_its_generation(served):
    before = served.status()["queue"]
    with (
        served.client() as client,
        client.stream("POST", "/v1/chat/completions", json={**LONG, "stream": True}) as r,
    ):
        for line in r.iter_lines():
            if '"content": "' in line and '"role"' not in line:
                break  # the first piece of text: hang up
    wait_for(lambda: served.status()["queue"]["cancelled"] == before["cancelled"] + 1)
    after = served.status()["queue"]
    assert after["done"] == before["done"] and not after["running"]


def test_a_client_that_hangs_up_on_a_plain_request_cancels_it_too(served):
    before = served.status()["queue"]
    with connect(served) as impatient:
        impatient.sendall(chat_request(served, LONG))
        wait_for(lambda: served.status()["queue"]["running"])
    wait_for(lambda: served.status()["queue"]["cancelled"] == before["cancelled"] + 1)
    assert served.status()["queue"]["done"] == before["done"]


def test_a_full_queue_answers_503_with_retry_after_and_the_others_are_served(served):
    results = {}

    def run(name, body):
        with served.client() as client:
            results[name] = client.post("/v1/chat/completions", json=body)

    first = threading.Thread(target=run, args=("first", LONG))
    first.start()
    wait_for(lambda: served.status()["queue"]["running"])
    second = threading.Thread(target=run, args=("second", {**LONG, "max_tokens": 2}))
    second.start()
    wait_for(lambda: served.status()["queue"]["waiting"] == 1)
    with served.client() as client:
        refused = client.post("/v1/chat/completions", json={**LONG, "max_tokens": 2})
    first.join()
    second.join()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "queue_full"
    assert results["first"].status_code == results["second"].status_code == 200


def test_a_client_that_never_reads_its_stream_does_not_hold_the_model(served):
    before = served.status()["queue"]
    with connect(served) as silent:
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        silent.sendall(chat_request(served, {**LONG, "max_tokens": 60, "stream": True}))  # never read
        wait_for(lambda: served.status()["queue"]["done"] >= before["done"] + 1)
        with served.client() as client:
            other = client.post("/v1/chat/completions", json={**LONG, "max_tokens": 2})
        assert other.status_code == 200 and not served.status()["queue"]["running"]
