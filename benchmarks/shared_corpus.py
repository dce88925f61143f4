"""Text from the shared corpus (``ASSETS/corpus/*.txt``: four novels and three poetry collections),
for benchmarks that need a given amount of real Chinese text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def corpus_files(assets: Path) -> list[Path]:
    return sorted(p for p in (assets / "corpus").glob("*.txt") if p.name != "SOURCE.txt")


def corpus_lines(assets: Path, megabytes: float) -> list[str]:
    """Non-blank lines, an equal share of ``megabytes`` (UTF-8) from each corpus file."""
    files = corpus_files(assets)
    per_file = int(megabytes * 1_000_000) // len(files)
    lines = []
    for path in files:
        used = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and used < per_file:
                lines.append(line)
                used += len(line.encode("utf-8"))
    return lines


def endless_paragraphs(assets: Path) -> Iterator[str]:
    """Every non-blank line of the corpus, in order, then again from the start, without end."""
    lines = [line for path in corpus_files(assets) for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line.strip() for line in lines if line.strip()]
    while True:
        yield from lines
