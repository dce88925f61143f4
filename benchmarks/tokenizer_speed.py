"""Tokenizer speed: raw sentencepiece vs our exact slow and fast tokenizers vs transformers' default.

Claim measured: exactness costs little against the tokenizer upstream uses (slow), and the exact
fast tokenizer's custom Python pre-tokenizer makes it slower than transformers' (inexact) default.
All four encode the same lines of the shared corpus (BOS included where the tokenizer adds it).

    .venv/bin/python benchmarks/tokenizer_speed.py [--mb 4] [--assets ../shared/assets]

"one by one": a Python loop, one call per line. "batch": one call with every line (sentencepiece
and tokenizers may use several threads there; the machine's core count is printed).
"""

import argparse
import os
import time
from pathlib import Path

from shared_corpus import corpus_lines


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=str(Path(__file__).resolve().parents[2] / "shared" / "assets"))
    parser.add_argument("--mb", type=float, default=4.0, help="megabytes of corpus text (UTF-8)")
    args = parser.parse_args()

    import sentencepiece as spm
    from transformers import AutoTokenizer

    from zhllama.core.tokenizer import load_tokenizer

    assets = Path(os.environ.get("ZHLLAMA_ASSETS", args.assets))
    folder = assets / "tokenizers" / "chinese-llama-2"
    lines = corpus_lines(assets, args.mb)
    chars = sum(map(len, lines))
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    slow = load_tokenizer(folder)
    fast = load_tokenizer(folder, fast=True)
    default = AutoTokenizer.from_pretrained(folder)

    cases = {
        "sentencepiece (raw)": (
            lambda: [sp.encode(x) for x in lines],
            lambda: sp.encode(lines, num_threads=os.cpu_count()),
        ),
        "zhllama slow (exact)": (lambda: [slow(x) for x in lines], lambda: slow(lines)),
        "zhllama fast (exact)": (lambda: [fast(x) for x in lines], lambda: fast(lines)),
        "transformers default fast (inexact)": (lambda: [default(x) for x in lines], lambda: default(lines)),
    }
    print(f"{len(lines)} lines, {chars} characters, {os.cpu_count()} CPU cores")
    print("| tokenizer | one by one: lines/s | chars/s | batch: lines/s | chars/s |")
    print("|---|---:|---:|---:|---:|")
    for name, (one, batch) in cases.items():
        t1, t2 = timed(one), timed(batch)
        n = len(lines)
        print(f"| {name} | {n / t1:,.0f} | {chars / t1:,.0f} | {n / t2:,.0f} | {chars / t2:,.0f} |")


if __name__ == "__main__":
    main()
