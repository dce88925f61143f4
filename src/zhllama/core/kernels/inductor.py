"""The CPU path: each op written once as float32 math over rows and compiled by ``torch.compile`` (inductor).

Why inductor: transformers' eager modules run each op as several full passes over memory with a
temporary per step (RMSNorm makes five, SwiGLU three); inductor turns each op into one vectorised
C++/OpenMP loop that reads its inputs once and writes its outputs once, in float32 registers. A
hand-written C++ extension would do the same but needs its own build; ``torch.nn.functional.rms_norm``
is not faster than eager on CPU here (see docs/kernels.md).

How the bodies see their inputs: flattened to rows (``(tokens, hidden)``; RoPE as ``(tokens, heads,
head_dim)`` in the projection's own memory order, so outputs are written in the order inputs are
read), with the row count marked dynamic and every other size static: one graph per model shape
and dtype serves every prompt length, and the inner loops vectorise over known widths. RoPE angles
are turned into a ``(tokens, head_dim / 2)`` cos/sin table before the compiled body, so the
transcendental math is paid once per token rather than once per head.

Fresh memory is the other cost: on Linux, glibc serves buffers of 32 MB and more with ``mmap``, and
every first touch of their pages is a page fault (docs/kernels.md measures it). So the ops write
into buffers the caller gives up where the contract allows (``add_rms_norm(..., in_place=True)``,
``swiglu(..., out=gate)``).

Contract: the same as ``zhllama.core.kernels.reference`` (computed in float32 and rounded once, so
bfloat16 results can differ from eager by one rounding). Compilation is lazy and cached on disk by
inductor (``TORCHINDUCTOR_CACHE_DIR``, default ``/tmp/torchinductor_$USER``): the first call in a
fresh cache costs seconds per op, a warm cache well under one. It needs a C++ compiler (``CXX`` or
g++).
"""

from collections.abc import Callable
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F

from zhllama.core.kernels import reference

SMALL_ROWS = 16
"""Below this many rows (tokens x batch; a decode step has one) the compiled call's fixed overhead
(guards, dispatch) costs more than the fusion saves (docs/kernels.md: 0.3-0.96x of eager), so
the op bodies run eagerly instead: the same float32 math, without a graph."""


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return (h * weight.to(torch.float32)).to(x.dtype)


def _add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    summed = (residual.to(torch.float32) + x.to(torch.float32)).to(x.dtype)
    return _rms_norm(summed, weight, eps), summed


def _add_rms_norm_in_place(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    summed = (residual.to(torch.float32) + x.to(torch.float32)).to(x.dtype)
    return _rms_norm(summed, weight, eps), x.copy_(summed)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].to(torch.float32), x[..., half:].to(torch.float32)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)


def _rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    cos, sin = cos[:, None, :], sin[:, None, :]
    return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return (F.silu(gate.to(torch.float32)) * up.to(torch.float32)).to(gate.dtype)


def _swiglu_into(gate: torch.Tensor, up: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return out.copy_((F.silu(gate.to(torch.float32)) * up.to(torch.float32)).to(out.dtype))


BODIES: dict[str, Callable[..., Any]] = {
    "rms_norm": _rms_norm,
    "add_rms_norm": _add_rms_norm,
    "add_rms_norm_in_place": _add_rms_norm_in_place,
    "rope": _rope,
    "swiglu": _swiglu,
    "swiglu_into": _swiglu_into,
}


@cache
def compiled(name: str) -> Callable[..., Any]:
    """The compiled form of one of this module's op bodies (compiled once per process).

    Not ``fullgraph``: past dynamo's recompile limit (8 per op body: dtypes, model widths) a
    ``fullgraph`` function fails hard while this one falls back to running the body eagerly:
    slower, never wrong.
    """
    return torch.compile(BODIES[name])


def _run(name: str, rows: int, *tensors: Any) -> Any:
    """Run body ``name`` on row-major ``tensors``: compiled with the row count dynamic, or eagerly
    below ``SMALL_ROWS``."""
    if rows < SMALL_ROWS:
        return BODIES[name](*tensors)
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor) and tensor.dim() > 1:
            torch._dynamo.maybe_mark_dynamic(tensor, 0)
    return compiled(name)(*tensors)


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1])


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """See ``reference.rms_norm``."""
    rows = _as_rows(x)
    return _run("rms_norm", rows.shape[0], rows, weight, float(eps)).view(x.shape)


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, *, in_place: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """See ``reference.add_rms_norm``; with ``in_place`` the sum is written into ``x`` when ``x`` is
    row-contiguous (no fresh buffer)."""
    rows, residual_rows = _as_rows(x), _as_rows(residual)
    body = "add_rms_norm_in_place" if in_place and x.is_contiguous() else "add_rms_norm"
    normed, summed = _run(body, rows.shape[0], rows, residual_rows, weight, float(eps))
    return normed.view(x.shape), summed.view(x.shape)


def _half_tables(
    batch: int,
    seq: int,
    half: int,
    positions: torch.Tensor | None,
    inv_freq: torch.Tensor | None,
    scaling: float,
    cos: torch.Tensor | None,
    sin: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``(batch * seq, half)`` cos/sin: from the first half of rotate-half tables, or from
    ``positions * inv_freq`` (once per token, shared by every head)."""
    if cos is not None and sin is not None:
        cos, sin = cos[..., :half].to(torch.float32), sin[..., :half].to(torch.float32)
    elif positions is not None and inv_freq is not None:
        freqs = positions.reshape(-1, seq, 1).to(torch.float32) * inv_freq.to(torch.float32)
        cos, sin = freqs.cos() * scaling, freqs.sin() * scaling
    else:
        raise ValueError("rope needs positions and inv_freq, or cos and sin tables")
    return (
        cos.reshape(-1, seq, half).expand(batch, seq, half).reshape(batch * seq, half),
        sin.reshape(-1, seq, half).expand(batch, seq, half).reshape(batch * seq, half),
    )


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
    """See ``reference.rope``. Outputs keep the projection's memory order (``(batch, seq, heads,
    head_dim)`` seen as ``(batch, heads, seq, head_dim)``, as transformers' views are)."""
    batch, _, seq, head_dim = q.shape
    if batch * seq < SMALL_ROWS:  # a decode step: the reference in float32, rounded once, costs least
        tables = {"cos": cos.float(), "sin": sin.float()} if cos is not None and sin is not None else {}
        got_q, got_k = reference.rope(
            q.float(), k.float(), positions=positions, inv_freq=inv_freq, scaling=scaling, **tables
        )
        return got_q.to(q.dtype), got_k.to(k.dtype)
    tables = _half_tables(batch, seq, head_dim // 2, positions, inv_freq, float(scaling), cos, sin)
    q_rows = q.transpose(1, 2).reshape(batch * seq, -1, head_dim)
    k_rows = k.transpose(1, 2).reshape(batch * seq, -1, head_dim)
    q_out, k_out = _run("rope", batch * seq, q_rows, k_rows, *tables)
    return (
        q_out.view(batch, seq, -1, head_dim).transpose(1, 2),
        k_out.view(batch, seq, -1, head_dim).transpose(1, 2),
    )


def swiglu(gate: torch.Tensor, up: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """See ``reference.swiglu``."""
    gate_rows, up_rows = _as_rows(gate), _as_rows(up)
    if out is None:
        return _run("swiglu", gate_rows.shape[0], gate_rows, up_rows).view(gate.shape)
    if not out.is_contiguous():
        return out.copy_(_run("swiglu", gate_rows.shape[0], gate_rows, up_rows).view(gate.shape))
    _run("swiglu_into", gate_rows.shape[0], gate_rows, up_rows, _as_rows(out))
    return out
