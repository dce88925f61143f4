"""Fused RMSNorm (with the residual add), RoPE and SwiGLU for this family, and their dispatch.

- ``reference``: the plain-torch contract of each op (equal to transformers' eager modules);
- ``inductor`` (CPU), ``triton_ops`` (CUDA), ``liger`` (CUDA, Liger-Kernel): implementations;
- ``dispatch``: which one runs per device and dtype (``ZHLLAMA_KERNELS=off|reference|auto``);
- ``apply(model)`` / ``revert(model)``: patch a transformers Llama model (they live in
  ``zhllama.patching``, outside the pure core, and are re-exported here lazily).

Importing this package imports neither torch nor triton.
"""

from typing import Any

from zhllama.core.kernels.dispatch import choose, kernel, mode, specs, table
from zhllama.core.kernels.errors import KernelError
from zhllama.core.kernels.spec import BACKENDS, KernelSpec

__all__ = [
    "BACKENDS",
    "KernelError",
    "KernelSpec",
    "apply",
    "choose",
    "kernel",
    "mode",
    "revert",
    "specs",
    "table",
]


def __getattr__(name: str) -> Any:
    if name in ("apply", "revert"):
        from zhllama import patching

        return getattr(patching, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
