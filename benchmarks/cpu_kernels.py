"""Fused ops vs transformers' eager modules on CPU at Llama-7B shapes, and end-to-end tokens/s.

Ratios are measured in the same run (the machine may be shared: absolute times move, ratios much
less). Achieved bytes/s count each op's compulsory traffic (inputs read once, outputs written
once) against this machine's copy bandwidth measured here (a large ``torch`` copy). Usage::

    .venv/bin/python benchmarks/cpu_kernels.py [--tokens 1,512,2048] [--batch 1,4] [--dtypes float32,bfloat16]
        [--e2e] [--threads N]

Prints a Markdown table (docs/kernels.md holds a run's output).
"""

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb

from zhllama.core.kernels import inductor, reference
from zhllama.patching import apply, revert

HIDDEN, HEADS, HEAD_DIM, INTERMEDIATE = 4096, 32, 128, 11008


def timed(fn, repeat: int) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls (after one warm call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bandwidth() -> float:
    src = torch.empty(256 * 2**20 // 4)
    dst = torch.empty_like(src)
    src.fill_(1.0)
    dst.fill_(0.0)
    return 2 * src.numel() * 4 / timed(lambda: dst.copy_(src), 5)


def cases(rows: int, dtype: torch.dtype):
    """(op, eager fn, fused fn, bytes moved) at ``rows`` tokens."""
    es = torch.finfo(dtype).bits // 8
    x, r = torch.randn(rows, HIDDEN, dtype=dtype), torch.randn(rows, HIDDEN, dtype=dtype)
    norm = LlamaRMSNorm(HIDDEN).to(dtype)
    w = norm.weight.detach()
    yield "rms_norm", lambda: norm(x), lambda: inductor.rms_norm(x, w, 1e-6), 2 * x.numel() * es
    yield (
        "add_rms_norm",
        lambda: norm(r + x),
        lambda: inductor.add_rms_norm(x, r, w, 1e-6, in_place=True),  # as the patched layer calls it
        4 * x.numel() * es,
    )
    q = torch.randn(1, rows, HEADS, HEAD_DIM, dtype=dtype).transpose(1, 2)
    k = torch.randn(1, rows, HEADS, HEAD_DIM, dtype=dtype).transpose(1, 2)
    positions = torch.arange(rows)[None]
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
    cos, sin = reference.rope_tables(positions, inv_freq, 1.0, dtype)
    yield (
        "rope",
        lambda: apply_rotary_pos_emb(q, k, cos, sin),
        lambda: inductor.rope(q, k, positions=positions, inv_freq=inv_freq),
        4 * q.numel() * es,
    )
    g, u = torch.randn(rows, INTERMEDIATE, dtype=dtype), torch.randn(rows, INTERMEDIATE, dtype=dtype)
    buf = g.clone()
    yield "swiglu", lambda: F.silu(g) * u, lambda: inductor.swiglu(buf, u, out=buf), 3 * g.numel() * es


def op_table(tokens, batches, dtypes, repeat, peak) -> list[str]:
    lines = [
        "| op | dtype | batch x tokens | eager ms | fused ms | speed-up | fused GB/s | % of copy bw |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dtype_name in dtypes:
        dtype = getattr(torch, dtype_name)
        for batch in batches:
            for n in tokens:
                for op, eager, fused, nbytes in cases(batch * n, dtype):
                    start = time.perf_counter()
                    fused()
                    first = time.perf_counter() - start
                    t_eager, t_fused = timed(eager, repeat), timed(fused, repeat)
                    lines.append(
                        f"| {op} | {dtype_name} | {batch}x{n} | {t_eager * 1e3:.2f} | {t_fused * 1e3:.2f} | "
                        f"{t_eager / t_fused:.2f}x | {nbytes / t_fused / 1e9:.1f} | "
                        f"{100 * nbytes / t_fused / peak:.0f}% |"
                    )
                    print(lines[-1], f"(first call {first:.1f}s)", flush=True)
    return lines


def e2e(model, name: str, prompt: int, steps: int) -> list[str]:
    from transformers import DynamicCache

    ids = torch.randint(5, model.config.vocab_size, (1, prompt))

    def run():
        cache = DynamicCache(config=model.config)
        with torch.no_grad():
            t0 = time.perf_counter()
            model(ids, cache=cache)
            t1 = time.perf_counter()
            for _ in range(steps):
                model(torch.tensor([[7]]), cache=cache)
            return t1 - t0, time.perf_counter() - t1

    rows = []
    for label in ("eager", "patched"):
        if label == "patched":
            apply(model, kernel_mode="auto")
        run()  # warm-up (compiles on the first patched call)
        prefill, decode = min(run() for _ in range(3))
        rows.append((label, prompt / prefill, steps / decode))
    revert(model)
    (_, p0, d0), (_, p1, d1) = rows
    return [f"| {name} | {p0:.0f} | {p1:.0f} | {p1 / p0:.2f}x | {d0:.1f} | {d1:.1f} | {d1 / d0:.2f}x |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="1,512,2048")
    parser.add_argument("--batch", default="1")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--e2e", action="store_true")
    parser.add_argument("--model", default=None, help="tiny model folder for the end-to-end rows")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = bandwidth()
    threads = torch.get_num_threads()
    malloc = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_"))
    print(
        f"copy bandwidth {peak / 1e9:.1f} GB/s, {threads} threads, torch {torch.__version__}, "
        f"glibc malloc settings: {malloc or 'default'}"
    )
    tokens = [int(t) for t in args.tokens.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    print("\n".join(op_table(tokens, batches, args.dtypes.split(","), args.repeat, peak)))
    if args.e2e:
        lines = [
            "| model (fp32) | prefill tok/s eager | patched | ratio | decode tok/s eager | patched | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        if args.model:
            import zhllama

            tiny, _ = zhllama.load(args.model)
            lines += e2e(tiny, "tiny-zh-llama, 256 prompt + 16 decode", 256, 16)
        config = LlamaConfig(
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            num_key_value_heads=HEADS,
            intermediate_size=INTERMEDIATE,
            num_hidden_layers=2,
            vocab_size=32000,
            max_position_embeddings=4096,
        )
        torch.manual_seed(0)
        big = LlamaForCausalLM(config).eval()
        lines += e2e(big, "Llama-7B-shaped, 2 layers, 128 prompt + 8 decode", 128, 8)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
