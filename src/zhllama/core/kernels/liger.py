"""Liger-Kernel as a backend on CUDA, where it already does the job (and has a backward pass).

Liger's RMSNorm (``casting_mode="llama"``), fused add+RMSNorm and SiLU-mul match our contract
and are tuned and maintained for CUDA, so ``auto`` prefers them there. Its RoPE takes cos/sin
tables only: with ``positions`` + ``inv_freq`` (what the patched model passes, so that scaled and
dynamic bases need no tables) this backend runs our Triton kernel instead.
"""

import torch
from liger_kernel.ops.fused_add_rms_norm import LigerFusedAddRMSNormFunction
from liger_kernel.ops.rms_norm import LigerRMSNormFunction
from liger_kernel.ops.rope import LigerRopeFunction
from liger_kernel.ops.swiglu import LigerSiLUMulFunction

from zhllama.core.kernels import triton_ops


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """See ``reference.rms_norm``."""
    return LigerRMSNormFunction.apply(x, weight, float(eps), 0.0, "llama", False)


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, *, in_place: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """See ``reference.add_rms_norm``; ``in_place`` is allowed and ignored (Liger returns a new sum,
    and CUDA's caching allocator makes a fresh buffer cheap)."""
    y, summed = LigerFusedAddRMSNormFunction.apply(x, residual, weight, float(eps), 0.0, "llama", False)
    return y, summed


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
    """See ``reference.rope``; tables go to Liger, positions + inv_freq to our kernel."""
    if cos is None or sin is None:
        return triton_ops.rope(q, k, positions=positions, inv_freq=inv_freq, scaling=scaling)
    return LigerRopeFunction.apply(q, k, cos, sin)


def swiglu(gate: torch.Tensor, up: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """See ``reference.swiglu``."""
    result = LigerSiLUMulFunction.apply(gate, up)
    return result if out is None else out.copy_(result)
