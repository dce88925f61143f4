"""Long-context perplexity of the tiny model per RoPE method, 1x-16x (and 64x) its trained length.

Claim measured (docs/long-context.md, "Perplexity from 1x to 16x"): how each method's perplexity
grows with the window length on the held-out text (the last 40,000 tokens of each novel, as
TRAINING.md says), through ``zhllama.load`` and ``plan``; and whether ``plan``'s choice is within
5% of the best method on the last-slice perplexity. ``--max-windows`` caps the windows per novel
and length (the whole held-out set is 160,000 tokens per cell).

    .venv/bin/python benchmarks/long_context_ppl.py [--max-windows N] [--json out.json]
    .venv/bin/python benchmarks/long_context_ppl.py --lengths 16384 --methods yarn,selfextend   # 64x

``selfextend`` is grouped attention with ``plan``'s group and window for each length;
``selfextend:G:W`` fixes them (one length per run when a pair is valid for one length only).
"""

import argparse
import os
from pathlib import Path

from transformers.utils import logging as transformers_logging

from zhllama.evaluation import run_perplexity
from zhllama.evaluation.sweep import format_table

ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", Path(__file__).resolve().parents[2] / "shared" / "assets"))
NOVELS = ("三国演义", "水浒传", "红楼梦", "西游记")
HELD_OUT_TOKENS = 40000
WITHIN = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ASSETS / "models" / "tiny-zh-llama"))
    parser.add_argument("--lengths", default="256,512,1024,2048,4096")
    parser.add_argument("--methods", default="none,pi,ntk,auto,yarn,dynamic,dynamic_yarn,selfextend")
    parser.add_argument("--max-windows", type=int, default=0, help="per novel and length (0: all)")
    parser.add_argument("--last", type=int, default=255)
    parser.add_argument("--json", default=None, help="also write the full results here")
    args = parser.parse_args()
    transformers_logging.disable_progress_bar()
    result = run_perplexity(
        args.model,
        [ASSETS / "corpus" / f"novel_{name}.txt" for name in NOVELS],
        args.lengths,
        args.methods,
        last=args.last,
        tail_tokens=HELD_OUT_TOKENS,
        max_windows_per_file=args.max_windows or None,
    )
    if args.json:
        Path(args.json).write_text(result.to_json(), encoding="utf-8")
    print(
        f"all / last {result.last} positions; * = plan's choice; "
        f"{args.max_windows or 'all'} window(s) per novel"
    )
    print(format_table(result))
    print()
    print("| L | best (last) | plan's choice (last) | within 5% |")
    print("|---|---|---|---|")
    for length, chosen in result.plan.items():
        rows = [row for row in result.rows if row.length == length]
        best = min(rows, key=lambda row: row.ppl_last)
        mine = next((row for row in rows if row.method == chosen), None)
        if mine is None:
            print(f"| {length} | {best.method} {best.ppl_last:.1f} | {chosen} (not measured) | ? |")
            continue
        ok = mine.ppl_last <= best.ppl_last * (1 + WITHIN)
        print(
            f"| {length} | {best.method} {best.ppl_last:.1f} | {chosen} {mine.ppl_last:.1f} "
            f"| {'yes' if ok else 'no'} |"
        )


if __name__ == "__main__":
    main()
