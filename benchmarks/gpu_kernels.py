"""On CUDA: check every Triton kernel against the reference, then time ours vs eager vs Liger-Kernel.

Run through ``benchmarks/gpu_kernels.sh`` (uses the repo's ``.venv``; no network needed). The
checks are the same as tests/core/kernels/test_gpu.py; Liger's column is skipped, with a note, if
``liger_kernel`` is not importable.
"""

import importlib.util
import sys

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb

from zhllama.core.kernels import reference, triton_ops

HIDDEN, HEADS, HEAD_DIM, INTERMEDIATE = 4096, 32, 128, 11008
TOL = {torch.float32: 1e-5, torch.bfloat16: 1e-2, torch.float16: 1e-3}


def check_all(device: str = "cuda") -> list[str]:
    """Every Triton kernel vs the fp32 reference on odd and 7B shapes; returns failures."""
    failures = []
    for dtype, tol in TOL.items():
        for rows, hidden in ((1, 64), (7, 257), (513, HIDDEN)):
            x = torch.randn(rows, hidden, device=device).to(dtype)
            r = torch.randn_like(x)
            w = (torch.rand(hidden, device=device) + 0.5).to(dtype)
            pairs = {
                "rms_norm": (triton_ops.rms_norm(x, w, 1e-6), reference.rms_norm(x.float(), w.float(), 1e-6)),
                "add_rms_norm": (
                    triton_ops.add_rms_norm(x, r, w, 1e-6)[0],
                    reference.rms_norm((x.float() + r.float()).to(dtype).float(), w.float(), 1e-6),
                ),
                "swiglu": (triton_ops.swiglu(x, r), reference.swiglu(x.float(), r.float())),
            }
            q = torch.randn(2, rows, 8, 128, device=device).to(dtype).transpose(1, 2)
            k = torch.randn(2, rows, 2, 128, device=device).to(dtype).transpose(1, 2)
            pos = torch.randint(0, 60000, (2, rows), device=device)
            inv = 1.0 / (10000.0 ** (torch.arange(0, 128, 2, device=device).float() / 128))
            got = triton_ops.rope(q, k, positions=pos, inv_freq=inv, scaling=1.1)
            want = reference.rope(q.float(), k.float(), positions=pos, inv_freq=inv, scaling=1.1)
            pairs["rope"] = (torch.cat([g.flatten() for g in got]), torch.cat([g.flatten() for g in want]))
            for op, (a, b) in pairs.items():
                try:
                    torch.testing.assert_close(a.float(), b.float(), rtol=tol, atol=tol)
                except AssertionError as exc:
                    failures.append(f"{op} {dtype} {rows}x{hidden}: {str(exc).splitlines()[1]}")
    return failures


def timed(fn) -> float:
    from triton.testing import do_bench

    return do_bench(fn, warmup=25, rep=100) / 1e3


def _cases(n, dtype, liger):
    """(op, eager, ours, liger or None, bytes moved) at n tokens of Llama-7B width."""
    es = torch.finfo(dtype).bits // 8
    x = torch.randn(n, HIDDEN, device="cuda", dtype=dtype)
    r = torch.randn_like(x)
    norm = LlamaRMSNorm(HIDDEN).to("cuda", dtype)
    w = norm.weight.detach()
    g = torch.randn(n, INTERMEDIATE, device="cuda", dtype=dtype)
    u = torch.randn_like(g)
    q = torch.randn(1, n, HEADS, HEAD_DIM, device="cuda", dtype=dtype).transpose(1, 2)
    k = torch.randn_like(q)
    pos = torch.arange(n, device="cuda")[None]
    inv = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2, device="cuda").float() / HEAD_DIM))
    cos, sin = reference.rope_tables(pos, inv, 1.0, dtype)
    return [
        ("rms_norm", lambda: norm(x), lambda: triton_ops.rms_norm(x, w, 1e-6),
         (lambda: liger.rms_norm(x, w, 1e-6)) if liger else None, 2 * x.numel() * es),
        ("add_rms_norm", lambda: norm(x + r), lambda: triton_ops.add_rms_norm(x, r, w, 1e-6),
         (lambda: liger.add_rms_norm(x, r, w, 1e-6)) if liger else None, 4 * x.numel() * es),
        ("rope", lambda: apply_rotary_pos_emb(q, k, cos, sin),
         lambda: triton_ops.rope(q, k, positions=pos, inv_freq=inv),
         (lambda: liger.rope(q, k, cos=cos, sin=sin)) if liger else None, 4 * q.numel() * es),
        ("swiglu", lambda: F.silu(g) * u, lambda: triton_ops.swiglu(g, u),
         (lambda: liger.swiglu(g, u)) if liger else None, 3 * g.numel() * es),
    ]  # fmt: skip


def table() -> list[str]:
    liger = None
    if importlib.util.find_spec("liger_kernel") is not None:
        from zhllama.core.kernels import liger
    else:
        print("note: liger_kernel is not importable in this .venv; its column is skipped")
    header = "| op | dtype | tokens | eager ms | ours ms | liger ms | ours vs eager | ours GB/s |"
    lines = [header, "|---" * 8 + "|"]
    for dtype in (torch.bfloat16, torch.float32):
        for n in (1, 512, 4096, 8 * 4096):
            cases = _cases(n, dtype, liger)
            for op, eager, ours, theirs, nbytes in cases:
                te, to = timed(eager), timed(ours)
                tl = f"{timed(theirs) * 1e3:.3f}" if theirs else "n/a"
                lines.append(
                    f"| {op} | {str(dtype)[6:]} | {n} | {te * 1e3:.3f} | {to * 1e3:.3f} | {tl} | "
                    f"{te / to:.2f}x | {nbytes / to / 1e9:.0f} |"
                )
                print(lines[-1], flush=True)
    return lines


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: this script checks and times the Triton kernels on a GPU")
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    failures = check_all()
    print("correctness:", "all Triton kernels match the reference" if not failures else "FAILED")
    for failure in failures:
        print("  ", failure)
    table()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
