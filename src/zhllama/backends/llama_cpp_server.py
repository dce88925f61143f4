"""llama-cpp-python's OpenAI-compatible server with zhllama's chat formats registered.

``python -m llama_cpp.server --chat_format chinese-alpaca-2`` cannot work on its own: the server
resolves ``--chat_format`` in its own process, where nothing has registered ours. This module is
the server's entry point with one step added first::

    python -m zhllama.backends.llama_cpp_server --model tiny.gguf [--context 8192] [server args ...]

It registers ``chinese-alpaca-2`` / ``chinese-alpaca-2-long`` (``register_chat_formats``), adds
``--chat_format chinese-alpaca-2`` unless one is given, turns ``--context N`` / ``--rope-method M``
into the RoPE plan's llama.cpp settings (``--n_ctx``, ``--rope_freq_base``, ...), then runs
``llama_cpp.server.__main__.main()`` with every other argument unchanged.

``start_server(...)`` runs that in a subprocess on a free local port and stops it afterwards
(tests, notebooks, the docqa CLI).
"""

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from zhllama.backends.protocol import BackendError

DEFAULT_CHAT_FORMAT = "chinese-alpaca-2"


def server_argv(argv: Sequence[str]) -> list[str]:
    """The ``llama_cpp.server`` arguments for ``argv`` (this launcher's own options resolved)."""
    from zhllama.backends.llama_cpp_backend import llama_cpp_kwargs

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--context", type=int, default=None)
    parser.add_argument("--rope-method", default=None)
    parser.add_argument("--model", default=None)
    ours, rest = parser.parse_known_args(list(argv))
    args = list(rest)
    if ours.model is not None:
        args = ["--model", ours.model, *args]
    if not any(arg == "--chat_format" or arg.startswith("--chat_format=") for arg in args):
        args += ["--chat_format", DEFAULT_CHAT_FORMAT]
    if ours.model is not None and not any(arg.startswith("--n_ctx") for arg in args):
        kwargs = llama_cpp_kwargs(ours.model, context=ours.context, rope_method=ours.rope_method)
        for key, value in kwargs.items():
            args += [f"--{key}", str(value)]
    elif ours.context is not None or ours.rope_method is not None:
        raise BackendError("--context/--rope-method need --model and no --n_ctx of your own")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Register the chat formats, then run llama-cpp-python's server with the resolved arguments."""
    from zhllama.backends.llama_cpp_chat_format import register_chat_formats

    args = server_argv(sys.argv[1:] if argv is None else argv)
    register_chat_formats()
    try:
        from llama_cpp.server.__main__ import main as server_main
    except ImportError as exc:
        raise BackendError(
            "llama-cpp-python's server is not installed: pip install 'zhllama[llamacpp]' "
            "(it brings llama-cpp-python[server])"
        ) from exc
    sys.argv = [sys.argv[0], *args]
    server_main()


@dataclass
class LocalServer:
    """A running server: its OpenAI-compatible base URL (``.../v1``) and process."""

    base_url: str
    process: subprocess.Popen
    log: Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def start_server(
    model_path: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    args: Sequence[str] = (),
    timeout: float = 120.0,
) -> Iterator[LocalServer]:
    """Run ``python -m zhllama.backends.llama_cpp_server`` for ``model_path`` until the block ends.

    Waits until ``GET /v1/models`` answers; on failure the error holds the end of the server's log.
    """
    port = port or free_port(host)
    log = Path(tempfile.mkstemp(prefix="zhllama-llama-cpp-server-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "zhllama.backends.llama_cpp_server",
        "--model",
        str(model_path),
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LocalServer(f"http://{host}:{port}/v1", process, log)
    try:
        _wait_until_ready(server, timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: LocalServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as response:
                json.load(response)
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    tail = server.log.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise BackendError(f"the llama.cpp server did not come up at {server.base_url}; its log ends:\n{tail}")


if __name__ == "__main__":
    main()
