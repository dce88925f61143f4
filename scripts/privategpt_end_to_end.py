"""Run a privateGPT 0.6.x checkout end to end with Chinese-Alpaca-2 served by zhllama, and report.

    python scripts/privategpt_end_to_end.py PRIVATEGPT_DIR [--model MODEL_DIR] [--venv DIR] [--work DIR]

Run it with zhllama's Python (zhllama[llamacpp] installed). It does what docs/privategpt.md tells a
0.6.x user to do (the openailike route), with privateGPT's real server:

1. copies the checkout into the work folder (the checkout itself is left untouched);
2. builds privateGPT's own virtualenv with Python 3.11 and its own pins (its poetry.lock as pip
   constraints) and the extras of this route: llms-openai-like, embeddings-openai,
   vector-stores-qdrant, plus ``sentencepiece``, which 0.6.x lacks and needs to load the model
   folder's tokenizer (``--venv`` reuses one built before; PyPI must be reachable);
3. exports the model to GGUF (``zhllama gguf export``) and starts zhllama's llama.cpp server for chat
   (Alpaca-2 chat format, RoPE plan for ``--context``), and a small OpenAI-compatible embeddings
   endpoint in this process over zhllama's offline character-bigram encoder — a stand-in for
   privateGPT's default HuggingFace embedding model, which nothing downloads here;
4. writes ``settings-zhllama.yaml`` with ``zhllama privategpt profile --tokenizer MODEL_DIR`` (so
   privateGPT counts tokens offline) and ``settings-e2e.yaml`` (the embeddings endpoint, a local
   Qdrant in the work folder, the port, no UI);
5. starts privateGPT as ``make run`` does (``PGPT_PROFILES=zhllama,e2e python -m private_gpt``),
   ingests every file of ``docs/examples`` through ``POST /v1/ingest/file`` and asks
   ``POST /v1/chat/completions`` with ``use_context`` and ``include_sources``;
6. prints a JSON report (ingested files, answer, sources, log tails) and stops everything.

Exit status 0 when every UTF-8 file was ingested and the answer came with sources (privateGPT 0.6.x
reads ``.txt`` as UTF-8 only, so the GBK example is expected to fail, and the report says so).
privateGPT 1.x needs its services (database, broker, workers); this script refuses a 1.x checkout.
"""

import argparse
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from zhllama.adapters.privategpt.profile import detect_version, write_profile
from zhllama.backends.llama_cpp_server import free_port, start_server
from zhllama.checkpoints.gguf import export_gguf
from zhllama.docqa.dense import HashedBigramEncoder
from zhllama.locations import default_model_dir

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"
QUESTION = "长城有多长？"
# privateGPT 0.6.x's core dependencies and the extras of the openailike route, installed under its lock
PACKAGES = [
    "fastapi[all]",
    "python-multipart",
    "injector",
    "pyyaml",
    "watchdog",
    "transformers",
    "docx2txt",
    "cryptography",
    "llama-index-core",
    "llama-index-readers-file",
    "llama-index-llms-openai-like",
    "llama-index-embeddings-openai",
    "llama-index-vector-stores-qdrant",
    "qdrant-client",
]
# not in 0.6.x's lock: transformers 4 needs it to read a tokenizer.model folder (the profile's --tokenizer)
TOKENIZER_PACKAGE = "sentencepiece"


def lock_constraints(checkout: Path, out: Path) -> Path:
    """``name==version`` for every registry package of the checkout's poetry.lock."""
    lock = tomllib.loads((checkout / "poetry.lock").read_text(encoding="utf-8"))
    pins = [
        f"{package['name']}=={package['version']}"
        for package in lock["package"]
        if package.get("source", {}).get("type") not in ("git", "directory", "url")
    ]
    out.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return out


def build_venv(checkout: Path, venv: Path) -> Path:
    """privateGPT's own virtualenv (Python 3.11, its lock's versions); returns its python."""
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if not python.is_file():
        base = shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        constraints = lock_constraints(checkout, venv / "constraints.txt")
        subprocess.run([*pip, "-c", str(constraints), *PACKAGES], check=True)
    subprocess.run([*pip, TOKENIZER_PACKAGE], check=True)
    return python


def request(url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 600) -> dict:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read())


def post_json(url: str, payload: dict) -> dict:
    return request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def post_file(url: str, path: Path) -> dict:
    """``multipart/form-data`` with one ``file`` field, as privateGPT's UI sends it."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return request(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"privateGPT exited ({process.returncode}); its log ends:\n{tail(log)}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            request(url, timeout=5)
            return
        time.sleep(1)
    raise SystemExit(f"privateGPT did not answer {url} within {timeout:.0f} s; its log ends:\n{tail(log)}")


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:] if log.is_file() else ""


class EmbeddingsHandler(BaseHTTPRequestHandler):
    """``POST /v1/embeddings`` (OpenAI's shape, float or base64) over the character-bigram encoder."""

    encoder = HashedBigramEncoder()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        rows = self.encoder.encode_passages(texts)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(row.astype("<f4").tobytes()).decode()
                if as_base64
                else row.tolist(),
            }
            for index, row in enumerate(rows)
        ]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        answer = json.dumps(
            {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def embeddings_endpoint():
    """The embeddings stand-in on a free local port; yields its ``.../v1`` base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def e2e_settings(embedding_base: str, port: int, data: Path) -> dict:
    """The run's own profile: the embedding server, a local Qdrant, a free port, no UI."""
    return {
        "server": {"port": port},
        "ui": {"enabled": False},
        "data": {"local_data_folder": str(data)},
        "embedding": {"mode": "openai", "ingest_mode": "simple"},
        "openai": {"embedding_api_base": embedding_base, "embedding_api_key": "EMPTY"},
        "vectorstore": {"database": "qdrant"},
        "qdrant": {"path": str(data / "qdrant")},
    }


def run(checkout: Path, model: Path, venv: Path, work: Path, context: int) -> dict:
    version = detect_version(checkout)
    if version != "0.6":
        raise SystemExit(
            f"{checkout} is privateGPT {version}.x: this script runs 0.6.x; 1.x needs its services "
            "(database, broker, workers) — start it as its docs say with the zhllama profile"
        )
    app = work / "private-gpt"
    if not app.exists():
        shutil.copytree(checkout, app)
    python = build_venv(app, venv)
    gguf = work / "model.gguf"
    if not gguf.is_file():
        export_gguf(model, gguf)
    report: dict = {"checkout": str(checkout), "venv": str(venv), "model": str(model)}
    chat_args = ["--context", str(context), "--n_threads", "2", "--verbose", "False"]
    with start_server(gguf, args=chat_args) as chat, embeddings_endpoint() as embeddings:
        write_profile(
            app,
            "openailike",
            api_base=chat.base_url,
            model=model.name,
            context_window=context,
            tokenizer=model,
        )
        port = free_port()
        data = work / "local_data"
        settings = e2e_settings(embeddings, port, data)
        (app / "settings-e2e.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
        log = work / "privategpt.log"
        env = {**os.environ, "PGPT_PROFILES": "zhllama,e2e", "PYTHONPATH": str(app)}
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(python), "-m", "private_gpt"], cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/health", server, log)
            report["ingested"] = {}
            for path in sorted(EXAMPLES.iterdir()):
                try:
                    answer = post_file(f"{base}/v1/ingest/file", path)
                    report["ingested"][path.name] = len(answer["data"])
                except urllib.error.HTTPError as error:
                    report["ingested"][path.name] = f"HTTP {error.code}: {error.read()[:300]!r}"
            reply = post_json(
                f"{base}/v1/chat/completions",
                {
                    "messages": [{"role": "user", "content": QUESTION}],
                    "use_context": True,
                    "include_sources": True,
                },
            )
            choice = reply["choices"][0]
            report["question"] = QUESTION
            report["answer"] = choice["message"]["content"]
            report["sources"] = [
                source["document"]["doc_metadata"].get("file_name") for source in choice.get("sources") or []
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)
            report["privategpt_log_tail"] = tail(log, 1500)
    utf8 = [path.name for path in EXAMPLES.iterdir() if is_utf8(path)]
    report["not_utf8"] = sorted(set(report["ingested"]) - set(utf8))
    report["ok"] = bool(report["sources"]) and all(
        isinstance(report["ingested"][name], int) and report["ingested"][name] > 0 for name in utf8
    )
    return report


def is_utf8(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a privateGPT 0.6.x checkout")
    parser.add_argument(
        "--model", type=Path, default=default_model_dir(), help="model folder (default: tiny)"
    )
    parser.add_argument("--venv", type=Path, help="privateGPT's virtualenv (built here when missing)")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--context", type=int, default=2048, help="context window the server plans RoPE for")
    args = parser.parse_args()
    if args.model is None:
        raise SystemExit("no model: pass --model MODEL_DIR (or set ZHLLAMA_ASSETS for the tiny test model)")
    work = args.work or Path(tempfile.mkdtemp(prefix="privategpt-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    report = run(
        args.checkout.resolve(),
        args.model.resolve(),
        (args.venv or work / "venv").resolve(),
        work,
        args.context,
    )
    print(json.dumps(report, ensure_ascii=False, indent=2))
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
