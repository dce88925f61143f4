"""Our Triton kernels (CUDA; on CPU tensors under ``TRITON_INTERPRET=1``, which is how tests run them).

All math is float32 in registers with one rounding on store, one program per row (token):

- ``rms_norm`` / ``add_rms_norm``: the row is loaded once; the residual sum is rounded to the input
  dtype before its statistics, as eager does, and written out for the next residual;
- ``rope``: one program per token rotates every q and k head. Angles come from ``positions * inv_freq``
  computed in the kernel (so scaled and per-step dynamic bases need no cos/sin tables, and no table
  is rebuilt when the base changes) or from rotate-half tables (only the first half is read);
- ``swiglu``: flat blocks, ``silu(gate) * up``, optionally into ``out`` (e.g. the gate buffer).

Contract: the same as ``zhllama.core.kernels.reference``. Forward only (inference).
"""

import torch
import triton
import triton.language as tl


@triton.jit
def _rms_norm_kernel(
    x_ptr,
    r_ptr,
    w_ptr,
    y_ptr,
    s_ptr,
    x_stride,
    r_stride,
    y_stride,
    s_stride,
    n_cols,
    eps,
    HAS_RESIDUAL: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * x_stride + cols, mask=mask, other=0.0)
    if HAS_RESIDUAL:
        r = tl.load(r_ptr + row * r_stride + cols, mask=mask, other=0.0)
        summed = (x.to(tl.float32) + r.to(tl.float32)).to(x.dtype)
        tl.store(s_ptr + row * s_stride + cols, summed, mask=mask)
        x = summed
    h = x.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(h * h, axis=0) / n_cols + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * y_stride + cols, (h * rstd * w).to(y_ptr.dtype.element_ty), mask=mask)


def _rows(t: torch.Tensor) -> torch.Tensor:
    rows = t.reshape(-1, t.shape[-1])
    return rows if rows.stride(-1) == 1 else rows.contiguous()


def _norm(
    x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, eps: float, in_place: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    n = x.shape[-1]
    x2 = _rows(x)
    y = torch.empty(x2.shape, dtype=x.dtype, device=x.device)
    r2 = s = None
    if residual is not None:
        r2 = _rows(residual)
        s = x2 if in_place and x.is_contiguous() else torch.empty_like(y)
    _rms_norm_kernel[(x2.shape[0],)](
        x2,
        r2 if r2 is not None else x2,
        weight,
        y,
        s if s is not None else y,
        x2.stride(0),
        r2.stride(0) if r2 is not None else 0,
        y.stride(0),
        s.stride(0) if s is not None else 0,
        n,
        float(eps),
        HAS_RESIDUAL=residual is not None,
        BLOCK=triton.next_power_of_2(n),
        num_warps=8 if n >= 4096 else 4,
    )
    return y.view(x.shape), (s.view(x.shape) if s is not None else None)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """See ``reference.rms_norm``."""
    return _norm(x, None, weight, eps)[0]


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, *, in_place: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """See ``reference.add_rms_norm``; with ``in_place`` the sum goes into ``x`` (each row is read
    before it is written, in the same program)."""
    y, s = _norm(x, residual, weight, eps, in_place)
    assert s is not None
    return y, s


@triton.jit
def _rotate_heads(src, dst, s_head, d_head, n_heads, cos, sin, HALF: tl.constexpr, BLOCK_H: tl.constexpr):
    heads = tl.arange(0, BLOCK_H)[:, None]
    dims = tl.arange(0, HALF)[None, :]
    mask = heads < n_heads
    a = tl.load(src + heads * s_head + dims, mask=mask, other=0.0)
    b = tl.load(src + heads * s_head + dims + HALF, mask=mask, other=0.0)
    a32, b32 = a.to(tl.float32), b.to(tl.float32)
    tl.store(dst + heads * d_head + dims, (a32 * cos - b32 * sin).to(dst.dtype.element_ty), mask=mask)
    tl.store(dst + heads * d_head + dims + HALF, (b32 * cos + a32 * sin).to(dst.dtype.element_ty), mask=mask)


@triton.jit
def _rope_kernel(
    q_ptr,
    k_ptr,
    qo_ptr,
    ko_ptr,
    pos_ptr,
    freq_ptr,
    cos_ptr,
    sin_ptr,
    seq_len,
    n_q,
    n_k,
    q_sb,
    q_sh,
    q_ss,
    k_sb,
    k_sh,
    k_ss,
    qo_sb,
    qo_sh,
    qo_ss,
    ko_sb,
    ko_sh,
    ko_ss,
    t_sb,
    t_ss,
    scaling,
    USE_TABLES: tl.constexpr,
    HALF: tl.constexpr,
    BLOCK_Q: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    b = pid // seq_len
    s = pid % seq_len
    dims = tl.arange(0, HALF)[None, :]
    if USE_TABLES:
        cos = tl.load(cos_ptr + b * t_sb + s * t_ss + dims).to(tl.float32)
        sin = tl.load(sin_ptr + b * t_sb + s * t_ss + dims).to(tl.float32)
    else:
        position = tl.load(pos_ptr + b * t_sb + s * t_ss).to(tl.float32)
        angle = position * tl.load(freq_ptr + dims).to(tl.float32)
        cos = tl.cos(angle) * scaling
        sin = tl.sin(angle) * scaling
    _rotate_heads(
        q_ptr + b * q_sb + s * q_ss, qo_ptr + b * qo_sb + s * qo_ss, q_sh, qo_sh, n_q, cos, sin, HALF, BLOCK_Q
    )
    _rotate_heads(
        k_ptr + b * k_sb + s * k_ss, ko_ptr + b * ko_sb + s * ko_ss, k_sh, ko_sh, n_k, cos, sin, HALF, BLOCK_K
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
    """See ``reference.rope``. ``head_dim`` must be a power of two (every Llama's is)."""
    batch, n_q, seq, head_dim = q.shape
    half = head_dim // 2
    if head_dim % 2 or half & (half - 1):
        raise ValueError(f"the Triton rope kernel needs a power-of-two head_dim, got {head_dim}")
    if q.stride(-1) != 1:
        q = q.contiguous()
    if k.stride(-1) != 1:
        k = k.contiguous()
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    use_tables = cos is not None and sin is not None
    if use_tables:
        cos_t, sin_t = (
            cos.reshape(-1, seq, head_dim).contiguous(),
            sin.reshape(-1, seq, head_dim).contiguous(),
        )
        t_sb = 0 if cos_t.shape[0] == 1 else cos_t.stride(0)
        t_ss = cos_t.stride(1)
        pos_t, freq_t = cos_t, cos_t
    else:
        if positions is None or inv_freq is None:
            raise ValueError("rope needs positions and inv_freq, or cos and sin tables")
        pos_t = positions.reshape(-1, seq)
        freq_t = inv_freq.to(device=q.device, dtype=torch.float32).contiguous()
        t_sb = 0 if pos_t.shape[0] == 1 else pos_t.stride(0)
        t_ss = pos_t.stride(1)
        cos_t, sin_t = freq_t, freq_t
    _rope_kernel[(batch * seq,)](
        q,
        k,
        q_out,
        k_out,
        pos_t,
        freq_t,
        cos_t,
        sin_t,
        seq,
        n_q,
        k.shape[1],
        *(q.stride(0), q.stride(1), q.stride(2)),
        *(k.stride(0), k.stride(1), k.stride(2)),
        *(q_out.stride(0), q_out.stride(1), q_out.stride(2)),
        *(k_out.stride(0), k_out.stride(1), k_out.stride(2)),
        t_sb,
        t_ss,
        float(scaling),
        USE_TABLES=use_tables,
        HALF=half,
        BLOCK_Q=triton.next_power_of_2(n_q),
        BLOCK_K=triton.next_power_of_2(k.shape[1]),
    )
    return q_out, k_out


@triton.jit
def _swiglu_kernel(g_ptr, u_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(u_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(o_ptr + offs, (g / (1.0 + tl.exp(-g)) * u).to(o_ptr.dtype.element_ty), mask=mask)


SWIGLU_BLOCK = 1024


def swiglu(gate: torch.Tensor, up: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """See ``reference.swiglu``."""
    g, u = gate.contiguous(), up.contiguous()
    target = out if out is not None and out.is_contiguous() else torch.empty_like(g)
    n = g.numel()
    _swiglu_kernel[(triton.cdiv(n, SWIGLU_BLOCK),)](g, u, target, n, BLOCK=SWIGLU_BLOCK)
    if out is not None and target is not out:
        return out.copy_(target)
    return target
