"""Decode speed of the two KV cache modes (``default`` vs ``before_rope``) under adaptive NTK.

Claim measured (docs/long-context.md, "Adaptive NTK with a KV cache"): caching keys before RoPE
costs a re-rotation of every cached key per layer and step, i.e. more per token as the context
grows. Greedy decoding of ``--new`` tokens after prompts of several lengths, with ``auto`` planned
for ``--context`` tokens; prefill time is excluded (it is measured separately and subtracted).

    .venv/bin/python benchmarks/rope_cache_speed.py [--model DIR] [--prompts 512,2048] [--new 64]
"""

import argparse
import time
import warnings
from pathlib import Path

import torch

import zhllama

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets"


def decode_tokens_per_second(model, prompt: torch.Tensor, new: int, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        with torch.no_grad():
            started = time.perf_counter()
            model.generate(prompt, max_new_tokens=1, min_new_tokens=1, do_sample=False, pad_token_id=0)
            prefill = time.perf_counter() - started
            started = time.perf_counter()
            model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
            total = time.perf_counter() - started
        best = max(best, (new - 1) / max(total - prefill, 1e-9))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ASSETS / "models" / "tiny-zh-llama"))
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--prompts", default="512,2048")
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), auto for {args.context} tokens, "
        f"{args.new} new tokens, best of {args.repeats}"
    )
    print("| prompt | default tok/s | before_rope tok/s | before_rope / default |")
    print("|---|---|---|---|")
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in ("default", "before_rope"):
            models[mode], _ = zhllama.load(
                args.model, context=args.context, rope_method="auto", kv_cache=mode
            )
    for length in (int(part) for part in args.prompts.split(",")):
        prompt = torch.randint(3, 32000, (1, length), generator=torch.Generator().manual_seed(length))
        speed = {
            mode: decode_tokens_per_second(m, prompt, args.new, args.repeats) for mode, m in models.items()
        }
        ratio = speed["before_rope"] / speed["default"]
        print(f"| {length} | {speed['default']:.1f} | {speed['before_rope']:.1f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
