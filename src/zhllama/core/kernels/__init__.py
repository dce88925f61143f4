"""Fused RMSNorm (with the residual add), RoPE and SwiGLU for this family, and their dispatch.

- ``reference``: the plain-torch contract of each op (equal to transformers' eager modules);
- ``inductor`` (CPU), ``triton_ops`` (CUDA), ``liger`` (CUDA, Liger-Kernel): implementations;
- ``dispatch``: which one runs per device and dtype (``ZHLLAMA_KERNELS=off|reference|auto``);
- ``catalog``: the four ops and where each backend implements them.

Patching a model with them is ``zhllama.patching.apply(model)`` (a side effect, outside the core).

Importing this package imports neither torch nor triton.
"""

from zhllama.core.kernels.dispatch import choose, kernel, mode, specs, table
from zhllama.core.kernels.spec import BACKENDS, KernelSpec
from zhllama.errors import KernelError

__all__ = [
    "BACKENDS",
    "KernelError",
    "KernelSpec",
    "choose",
    "kernel",
    "mode",
    "specs",
    "table",
]
