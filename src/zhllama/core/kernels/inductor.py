"""The CPU path: each op written once as float32 math and compiled by ``torch.compile`` (inductor).

Why inductor: transformers' eager modules run each op as several full passes over memory with a
temporary per step (RMSNorm makes five, SwiGLU three); inductor turns each op into one vectorised
C++/OpenMP loop that reads its inputs once and writes its outputs once, in float32 registers. A
hand-written C++ extension would do the same but needs its own build; ``torch.nn.functional.rms_norm``
is not faster than eager on CPU here (see docs/kernels.md).

Contract: the same as ``zhllama.core.kernels.reference`` (computed in float32 and rounded once, so
bfloat16 results can differ from eager by one rounding). Compilation is lazy, ``dynamic=True`` (one
graph for every token count; a one-token decode step gets its own), and cached on disk by inductor
(``TORCHINDUCTOR_CACHE_DIR``, default ``/tmp/torchinductor_$USER``): the first call in a fresh
cache costs seconds per op, a warm cache well under one. It needs a C++ compiler (``CXX`` or g++).
"""

from collections.abc import Callable
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F

from zhllama.core.kernels import reference

SMALL_ROWS = 16
"""Below this many rows (tokens x batch; a decode step has one) the compiled call's fixed overhead
(guards, dispatch) costs more than the fusion saves (docs/kernels.md: 0.3-0.96x at one token), so
the ops run the plain-torch reference instead: the same contract, computed the same way."""


def _rows(x: torch.Tensor) -> int:
    return x.numel() // max(x.shape[-1], 1)


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return (h * weight.to(torch.float32)).to(x.dtype)


def _add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    summed = (residual.to(torch.float32) + x.to(torch.float32)).to(x.dtype)
    return _rms_norm(summed, weight, eps), summed


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].to(torch.float32), x[..., half:].to(torch.float32)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)


def _rope_angles(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor, scaling: float
) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = positions[:, None, :, None].to(torch.float32) * inv_freq.to(torch.float32)
    cos, sin = freqs.cos() * scaling, freqs.sin() * scaling
    return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _rope_tables(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    half = q.shape[-1] // 2
    cos = cos[:, None, :, :half].to(torch.float32)
    sin = sin[:, None, :, :half].to(torch.float32)
    return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return (F.silu(gate.to(torch.float32)) * up.to(torch.float32)).to(gate.dtype)


def _swiglu_into(gate: torch.Tensor, up: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    # Writing into a buffer the caller owns (the gate projection, in the patched MLP) saves the
    # allocation and first-touch page faults of a fresh output, a large part of eager's cost on CPU.
    return out.copy_((F.silu(gate.to(torch.float32)) * up.to(torch.float32)).to(out.dtype))


@cache
def compiled(name: str) -> Callable[..., Any]:
    """The compiled form of one of this module's op bodies (compiled once per process).

    Not ``fullgraph``: each dtype, and one-token inputs, cost a recompile, and past dynamo's
    recompile limit (8 per op body) a ``fullgraph`` function fails hard while this one falls back
    to running the body eagerly: slower, never wrong.
    """
    bodies = {
        "rms_norm": _rms_norm,
        "add_rms_norm": _add_rms_norm,
        "rope_angles": _rope_angles,
        "rope_tables": _rope_tables,
        "swiglu": _swiglu,
        "swiglu_into": _swiglu_into,
    }
    return torch.compile(bodies[name], dynamic=True)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """See ``reference.rms_norm``."""
    if _rows(x) < SMALL_ROWS:
        return reference.rms_norm(x, weight, eps)
    return compiled("rms_norm")(x, weight, float(eps))


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """See ``reference.add_rms_norm``."""
    if _rows(x) < SMALL_ROWS:
        return reference.add_rms_norm(x, residual, weight, eps)
    return compiled("add_rms_norm")(x, residual, weight, float(eps))


def rope(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    positions: torch.Tensor | None = None,
    inv_freq: torch.Tensor | None = None,
    scaling: float = 1.0,
    cos: torch.Tensor | None = None,
    sin: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """See ``reference.rope``."""
    if _rows(q) < SMALL_ROWS * q.shape[-3]:  # rows per head: (batch, heads, seq, dim)
        # float32 math rounded once, as the compiled body does (the reference alone would round its tables)
        tables = {"cos": cos.float(), "sin": sin.float()} if cos is not None and sin is not None else {}
        got_q, got_k = reference.rope(
            q.float(), k.float(), positions=positions, inv_freq=inv_freq, scaling=scaling, **tables
        )
        return got_q.to(q.dtype), got_k.to(k.dtype)
    if cos is not None and sin is not None:
        return compiled("rope_tables")(q, k, cos, sin)
    if positions is None or inv_freq is None:
        raise ValueError("rope needs positions and inv_freq, or cos and sin tables")
    return compiled("rope_angles")(q, k, positions, inv_freq, float(scaling))


def swiglu(gate: torch.Tensor, up: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """See ``reference.swiglu``."""
    if _rows(gate) < SMALL_ROWS:
        return reference.swiglu(gate, up, out=out)
    if out is None:
        return compiled("swiglu")(gate, up)
    return compiled("swiglu_into")(gate, up, out)
