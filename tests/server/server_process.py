"""Running `zhllama serve` as a user does (``zhllama serve ... --port 0``) and talking to it.

The port the server bound is read from its first line; ``upload`` sends files and waits for their
ingest job.
"""

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

API_KEY = "test-key-0123"
TINY = "tiny-zh-llama"


@dataclass
class Served:
    """A running server: ``url`` (no trailing slash), ``api`` (``url + "/v1"``), its process and log."""

    url: str
    process: subprocess.Popen
    log: Path
    api_key: str | None = None

    @property
    def api(self) -> str:
        return self.url + "/v1"

    def client(self, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)

    def status(self) -> dict:
        with self.client() as client:
            return client.get("/v1/status").json()


def start_server(args, log: Path, env: dict, api_key: str | None = None, timeout: float = 180) -> Served:
    """Start ``zhllama serve ARGS --port 0``; wait until the page answers; fail with its log if it dies."""
    command = [sys.executable, "-c", "from zhllama.cli import main; main()", "serve", *map(str, args)]
    if api_key:
        command += ["--api-key", api_key]
    out = log.open("w")
    process = subprocess.Popen([*command, "--port", "0"], stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + timeout
    url = None
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"zhllama serve exited with {process.returncode}:\n{log.read_text()}")
        found = re.search(r"zhllama serve: (http://[^/\s]+)/", log.read_text())
        if found:
            url = found.group(1)
            try:
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    return Served(url, process, log, api_key)
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"zhllama serve did not answer at {url} in {timeout}s:\n{log.read_text()}")


def stop_server(server: Served) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()


def upload(server: Served, *paths: Path) -> dict:
    """Upload the files at ``paths`` and wait for their ingest job to end; return the finished job."""
    return upload_files(server, [(path.name, path.read_bytes()) for path in paths])


def upload_files(server: Served, files: list[tuple[str, bytes]], timeout: float = 120) -> dict:
    """Upload ``(name, bytes)`` pairs and wait for their ingest job to end; return the finished job."""
    with server.client() as client:
        response = client.post("/v1/documents", files=[("files", file) for file in files])
        assert response.status_code == 202, response.text
        job = response.json()
        deadline = time.time() + timeout
        while job["status"] in ("queued", "running"):
            assert time.time() < deadline, f"ingest job did not finish: {job}"
            time.sleep(0.2)
            job = client.get(f"/v1/documents/jobs/{job['id']}").json()
    return job
