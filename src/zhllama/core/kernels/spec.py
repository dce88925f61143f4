"""What a fused kernel is: one operation, a plain-torch reference, and implementations per backend.

A ``KernelSpec`` names its implementations as ``"module:function"`` strings so that the
catalogue imports neither torch nor triton; ``dispatch`` imports the chosen implementation on
first use. Every implementation of an op has the same signature and contract as its reference in
``zhllama.core.kernels.reference``.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from zhllama.errors import KernelError

BACKENDS = ("reference", "inductor", "triton", "liger")
"""reference: plain torch, any device; inductor: ``torch.compile`` (the CPU path); triton: our
Triton kernels (CUDA, or anywhere under ``TRITON_INTERPRET=1``); liger: Liger-Kernel (CUDA)."""


@dataclass(frozen=True)
class KernelSpec:
    """One fused operation and where each backend's implementation lives."""

    name: str
    summary: str
    implementations: Mapping[str, str] = field(default_factory=dict)

    def load(self, backend: str) -> Callable[..., Any]:
        """Import and return the implementation for ``backend``; unknown backends name the known ones."""
        if backend not in self.implementations:
            raise KernelError(
                f"kernel {self.name!r} has no {backend!r} implementation: it has "
                f"{', '.join(sorted(self.implementations))}"
            )
        module_name, _, function = self.implementations[backend].partition(":")
        try:
            return getattr(import_module(module_name), function)
        except ImportError as exc:
            raise KernelError(
                f"kernel {self.name!r}: the {backend!r} implementation needs {exc.name or module_name}, "
                "which is not importable. Install zhllama[kernels] or set ZHLLAMA_KERNELS=reference."
            ) from exc
