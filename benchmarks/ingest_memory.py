"""Peak resident memory of ``zhllama qa ingest`` on one large text file (docs/reliability.md has the table).

The file is the shared corpus's lines repeated to ``--mb`` megabytes (UTF-8). Each row runs the real
command in a fresh process and samples the memory of its whole process tree (the command and its
preparing worker) every 20 ms: the sum of their proportional set sizes (a forked worker shares its
parent's pages, which count once) and the largest resident size of one process. Rows: a one-line
file (what importing and starting costs), the large file as shipped, and the large file with the
worker off (``ZHLLAMA_DOCQA_WORKER=0``: one process). The bound the issue set is 10x the file's size.

    .venv/bin/python benchmarks/ingest_memory.py [--mb 50] [--assets ../shared/assets]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_memory import PeakMemory
from shared_corpus import endless_paragraphs

from zhllama.locations import assets_dir


def write_text(path: Path, megabytes: float, assets: Path) -> None:
    budget = int(megabytes * 1024 * 1024)
    with path.open("w", encoding="utf-8") as out:
        for line in endless_paragraphs(assets):
            if out.tell() >= budget:
                return
            out.write(line + "\n")


def ingest(folder: Path, db: Path, worker: bool) -> tuple[float, float, float, str]:
    """(peak MiB of the process tree, peak MiB of its largest process, seconds, the command's last line)."""
    env = {**os.environ, "ZHLLAMA_DOCQA_WORKER": "1" if worker else "0"}
    command = [str(Path(sys.executable).with_name("zhllama")), "qa", "ingest", str(folder), "--db", str(db)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(process.pid) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}")
    return memory.peak, max(memory.per_process.values()), seconds, output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the large file in MiB")
    parser.add_argument("--assets", type=Path, default=assets_dir())
    args = parser.parse_args()
    os.environ.setdefault("ZHLLAMA_TOKENIZER", str(args.assets / "tokenizers" / "chinese-llama-2"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "small").mkdir()
        (root / "small" / "one.txt").write_text("长江是中国最长的河流。\n", encoding="utf-8")
        (root / "large").mkdir()
        write_text(root / "large" / "large.txt", args.mb, args.assets)
        size = (root / "large" / "large.txt").stat().st_size / 2**20
        rows = [
            ("one line", root / "small", True),
            (f"{size:.0f} MiB, as shipped", root / "large", True),
            (f"{size:.0f} MiB, one process", root / "large", False),
        ]
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")
        print("| file | peak PSS, all processes | largest process (RSS) | x file size | time | result |")
        print("|---|---|---|---|---|---|")
        for number, (name, folder, worker) in enumerate(rows):
            peak, largest, seconds, result = ingest(folder, root / f"db{number}", worker)
            ratio = f"{peak / size:.1f}x" if folder.name == "large" else "—"
            print(f"| {name} | {peak:.0f} MiB | {largest:.0f} MiB | {ratio} | {seconds:.0f} s | {result} |")


if __name__ == "__main__":
    main()
