"""Re-ingesting a folder of 10,000 unchanged files (docs/docqa.md, targets of issue #18).

The CMRC trial and DRCD test paragraphs, repeated until there are ``--files`` of them, one file each
(100 to a subfolder), are ingested once with ``zhllama qa ingest``; then the same command runs again
over the unchanged folder, as a user would, and its wall time is the measure (the process's start
included). A third run after the saved catalogue of files is deleted shows what a store pays once
when it must read its catalogue from Chroma.

    .venv/bin/python benchmarks/reingest.py [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa_sets import load_cmrc, load_drcd

from zhllama.locations import assets_dir


def timed_ingest(folder: Path, db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("zhllama")), "qa", "ingest", str(folder), "--db", str(db)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--assets", type=Path, default=assets_dir())
    options = parser.parse_args()
    os.environ.setdefault("ZHLLAMA_TOKENIZER", str(options.assets / "tokenizers" / "chinese-llama-2"))
    paragraphs = load_cmrc(options.assets).paragraphs + load_drcd(options.assets).paragraphs
    with tempfile.TemporaryDirectory() as work:
        folder, db = Path(work) / "docs", Path(work) / "db"
        for i in range(options.files):
            path = folder / f"{i // 100:04d}" / f"{i:06d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{paragraphs[i % len(paragraphs)]}\n（第 {i} 份）\n", encoding="utf-8")
        load = os.getloadavg()[0]
        first = timed_ingest(folder, db)
        again = timed_ingest(folder, db)
        shutil.rmtree(db / "catalogue")
        without_catalogue = timed_ingest(folder, db)
    print(
        f"{options.files:,} files, load {load:.1f}: first ingest {first:.1f} s, again unchanged "
        f"{again:.1f} s, again with the catalogue deleted {without_catalogue:.1f} s"
    )


if __name__ == "__main__":
    main()
