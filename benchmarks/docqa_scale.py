"""Document QA as the corpus grows: 10k, 100k and 1M chunks (docs/docqa.md has the table).

A synthetic Chinese corpus is written from the shared corpus (its lines in order, again and again,
200 lines a file) until it holds about N chunks of ``--chunk-tokens`` tokens, then for each size:

- ingest: ``zhllama qa ingest DIR`` as a user runs it (wall time, chunks/s, CPU seconds of it and
  its worker);
- store: its size on disk (Chroma and the BM25 segments);
- BM25 index: build from the collection (``Store.rebuild_lexical``: what a store without a usable
  index pays once) and load (memory-mapping the saved segments);
- search: a fresh process opens the store and answers ``--queries`` questions (8 to 20 characters
  cut from corpus lines, a fixed sample) with ``Retriever.retrieve(q, k=8)``: p50/p95 latency and its
  resident memory afterwards (RssAnon = the process's own heap, RssFile = mapped files the kernel
  can drop and re-read).

With ``--chroma-url`` the store is that Chroma server (start one with ``chroma run --path DIR``),
the BM25 index lives beside this machine's cache, and the same rows are measured.

    .venv/bin/python benchmarks/docqa_scale.py [--chunks 10000,100000,1000000] [--chroma-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_memory import rss_mib
from shared_corpus import corpus_lines, endless_paragraphs

from zhllama.locations import assets_dir

LINES_PER_FILE = 200


def chars_per_chunk(assets: Path, chunk_tokens: int, overlap_tokens: int) -> float:
    """Characters of corpus text per chunk, measured by splitting a sample the way ingest does."""
    from zhllama.docqa.splitting import iter_chunks, token_counter

    count, _ = token_counter(os.environ["ZHLLAMA_TOKENIZER"])
    sample = "\n".join(corpus_lines(assets, 0.3))
    chunks = sum(1 for _ in iter_chunks(sample, count, chunk_tokens, overlap_tokens))
    return len(sample) / chunks


def write_corpus(folder: Path, characters: int, assets: Path) -> int:
    """Files of ``LINES_PER_FILE`` corpus lines under ``folder`` (100 files a subfolder) until they
    hold ``characters``; the number of files."""
    lines = endless_paragraphs(assets)
    written = files = 0
    while written < characters:
        text = "\n".join(next(lines) for _ in range(LINES_PER_FILE)) + "\n"
        path = folder / f"{files // 100:05d}" / f"{files:07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += len(text)
        files += 1
    return files


def questions(assets: Path, n: int) -> list[str]:
    rng = random.Random(0)
    lines = [line for line in corpus_lines(assets, 2.0) if len(line) >= 24]
    picked = []
    for line in rng.sample(lines, n):
        size = rng.randint(8, 20)
        start = rng.randrange(len(line) - size)
        picked.append(line[start : start + size])
    return picked


def store_arguments(db: Path, chroma_url: str | None, collection: str) -> list[str]:
    return (["--chroma-url", chroma_url] if chroma_url else ["--db", str(db)]) + ["--collection", collection]


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def search_process(options: argparse.Namespace) -> None:
    """The measured search process: prints one JSON line."""
    from zhllama.docqa.lexical import LexicalIndex
    from zhllama.docqa.retrieval import Retriever
    from zhllama.docqa.store import Store

    store = Store(db=options.db, chroma_url=options.chroma_url, collection=options.collection, create=False)
    started = time.perf_counter()
    LexicalIndex.load(store.lexical_folder("bigram"), store.current_generation())
    load = time.perf_counter() - started
    retriever = Retriever(store, mode="lexical")
    retriever.retrieve("预热", k=8)
    latencies = []
    for question in questions(options.assets, options.queries):
        started = time.perf_counter()
        retriever.retrieve(question, k=8)
        latencies.append(1000 * (time.perf_counter() - started))
    latencies.sort()
    pid = os.getpid()
    print(
        json.dumps(
            {
                "chunks": store.count(),
                "load_s": load,
                "p50_ms": statistics.median(latencies),
                "p95_ms": latencies[int(0.95 * len(latencies)) - 1],
                "rss": rss_mib(pid),
                "anon": rss_mib(pid, "RssAnon"),
                "file": rss_mib(pid, "RssFile"),
                "peak": rss_mib(pid, "VmHWM"),
            }
        )
    )


def rebuild_seconds(db: Path, chroma_url: str | None, collection: str) -> float:
    from zhllama.docqa.store import Store

    store = Store(db=None if chroma_url else db, chroma_url=chroma_url, collection=collection, create=False)
    started = time.perf_counter()
    store.rebuild_lexical("bigram")
    return time.perf_counter() - started


def children_cpu() -> float:
    """CPU seconds of the finished child processes (the ingest and its worker): unlike the wall
    time, not inflated when something else runs on the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(size: int, root: Path, options: argparse.Namespace, per_chunk: float) -> str:
    docs, db = root / f"docs-{size}", root / f"db-{size}"
    collection = f"scale{size}"
    if options.reuse:
        return measure_store(size, db, options, "—", "—")
    files = write_corpus(docs, int(size * per_chunk), options.assets)
    zhllama = str(Path(sys.executable).with_name("zhllama"))
    split = ["--chunk-tokens", str(options.chunk_tokens), "--overlap-tokens", str(options.overlap_tokens)]
    location = store_arguments(db, options.chroma_url, collection)
    started, cpu_before = time.perf_counter(), children_cpu()
    result = subprocess.run(
        [zhllama, "qa", "ingest", str(docs), *location, *split, "--json"], capture_output=True, text=True
    )
    ingest, cpu = time.perf_counter() - started, children_cpu() - cpu_before
    if result.returncode:
        raise SystemExit(f"ingest of {size} chunks failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    chunks = sum(f["chunks"] for f in report["files"])
    if not options.keep:
        shutil.rmtree(docs)
    return measure_store(
        size, db, options, f"{files:,}", f"{ingest:,.0f} s ({chunks / ingest:,.0f}/s; CPU {cpu:,.0f} s)"
    )


def measure_store(size: int, db: Path, options: argparse.Namespace, files: str, ingest: str) -> str:
    """The row of one size: ``files`` and ``ingest`` as measured (or "—" for a store reused)."""
    collection = f"scale{size}"
    rebuild = None if options.skip_rebuild else rebuild_seconds(db, options.chroma_url, collection)
    search = subprocess.run(
        [sys.executable, __file__, "--search-process", "--assets", str(options.assets)]
        + [f"--queries={options.queries}", f"--collection={collection}"]
        + ([f"--chroma-url={options.chroma_url}"] if options.chroma_url else [f"--db={db}"]),
        capture_output=True,
        text=True,
    )
    if search.returncode:
        raise SystemExit(f"search over {size} chunks failed:\n{search.stderr[-3000:]}")
    s = json.loads(search.stdout.strip().splitlines()[-1])
    on_disk = f"{folder_mib(db):,.0f} MiB" if db.exists() else "server"
    build = "—" if rebuild is None else f"{rebuild:.1f} s"
    return (
        f"| {s['chunks']:,} | {files} | {ingest} | {on_disk} | "
        f"{build} / {s['load_s'] * 1000:.0f} ms | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} ms | "
        f"{s['rss']:,.0f} MiB ({s['anon']:,.0f} anon + {s['file']:,.0f} file), peak {s['peak']:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="10000,100000,1000000")
    parser.add_argument("--chunk-tokens", type=int, default=64)
    parser.add_argument("--overlap-tokens", type=int, default=8)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--chroma-url")
    parser.add_argument("--collection", default="docqa")
    parser.add_argument("--db", type=Path)
    parser.add_argument(
        "--work", type=Path, help="folder for corpora and stores, kept [default: a temporary one]"
    )
    parser.add_argument("--keep", action="store_true", help="keep the written corpora too")
    parser.add_argument("--skip-rebuild", action="store_true", help="do not time a BM25 build from the store")
    parser.add_argument("--reuse", action="store_true", help="measure the stores of an earlier run again")
    parser.add_argument("--assets", type=Path, default=assets_dir())
    parser.add_argument("--search-process", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    os.environ.setdefault("ZHLLAMA_TOKENIZER", str(options.assets / "tokenizers" / "chinese-llama-2"))
    if options.search_process:
        search_process(options)
        return
    per_chunk = chars_per_chunk(options.assets, options.chunk_tokens, options.overlap_tokens)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; chunks of "
        f"{options.chunk_tokens}/{options.overlap_tokens} tokens (~{per_chunk:.0f} characters); "
        f"store: {options.chroma_url or 'embedded (PersistentClient)'}\n"
    )
    print("| chunks | files | ingest | store on disk | BM25 build / load | query p50 / p95 | search RSS |")
    print("|---|---|---|---|---|---|---|")
    with contextlib.ExitStack() as stack:
        work = options.work or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        for size in (int(n) for n in options.chunks.split(",")):
            print(measure(size, work, options, per_chunk), flush=True)


if __name__ == "__main__":
    main()
