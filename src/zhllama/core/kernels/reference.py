"""Plain-torch references of the fused ops, numerically the same as transformers' eager Llama modules.

They are the contract every backend is tested against, the fallback on devices without a faster
path, and what ``ZHLLAMA_KERNELS=reference`` patches in (to check the patching on its own).

Shapes: ``x``/``residual`` ``(..., hidden)``; ``q`` ``(batch, q_heads, seq, head_dim)`` and ``k``
``(batch, kv_heads, seq, head_dim)`` (transformers' layout); ``positions`` ``(batch or 1, seq)``;
``inv_freq`` ``(head_dim // 2,)`` float32; ``cos``/``sin`` ``(batch or 1, seq, head_dim)`` in the
rotate-half layout (both halves equal); ``gate``/``up`` any equal shapes.
"""

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``LlamaRMSNorm``: statistics in float32, normalised value cast back, then times ``weight``."""
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return (weight * h.to(dtype)).to(dtype)


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, *, in_place: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rms_norm(x + residual), x + residual)``: the decoder layer's residual add and next norm.

    ``in_place=True``: the caller gives ``x`` up, and an implementation may write the sum into it
    instead of a fresh buffer (this one does; Liger's does not). Use the returned sum either way.
    """
    summed = x.add_(residual) if in_place else residual + x
    return rms_norm(summed, weight, eps), summed


def rope_tables(
    positions: torch.Tensor, inv_freq: torch.Tensor, scaling: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``LlamaRotaryEmbedding``'s cos/sin tables, ``(batch or 1, seq, head_dim)`` in ``dtype``."""
    freqs = positions[..., None].to(torch.float32) * inv_freq.to(device=positions.device, dtype=torch.float32)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(dtype), (emb.sin() * scaling).to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """One tensor ``(batch, heads, seq, head_dim)`` rotated by ``(batch or 1, seq, head_dim)`` tables."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return x * cos + _rotate_half(x) * sin


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
    """Rotate ``q`` and ``k`` by position: from ``positions`` + ``inv_freq`` (+ ``scaling``, the
    method's attention factor) or from ready ``cos``/``sin`` tables; returns new tensors."""
    if cos is None or sin is None:
        if positions is None or inv_freq is None:
            raise ValueError("rope needs positions and inv_freq, or cos and sin tables")
        cos, sin = rope_tables(positions, inv_freq, scaling, q.dtype)
    return rotate(q, cos, sin), rotate(k, cos, sin)


def swiglu(gate: torch.Tensor, up: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """``LlamaMLP``'s ``silu(gate) * up``; ``out`` (which may be ``gate``) receives the result."""
    result = F.silu(gate) * up
    if out is None:
        return result
    return out.copy_(result)
