"""The built-in fused kernels, registered through the ``register_kernels`` hook like a plugin's.

Imported when plugins load, so it imports neither torch nor triton: implementations are named by
``"module:function"`` and imported on first use.
"""

from collections.abc import Callable

from zhllama.core.kernels.spec import KernelSpec
from zhllama.hookspecs import hookimpl

_PKG = "zhllama.core.kernels"


def _impls(function: str, *, liger: bool = True) -> dict[str, str]:
    found = {
        "reference": f"{_PKG}.reference:{function}",
        "inductor": f"{_PKG}.inductor:{function}",
        "triton": f"{_PKG}.triton_ops:{function}",
    }
    if liger:
        found["liger"] = f"{_PKG}.liger:{function}"
    return found


BUILTIN_KERNELS = (
    KernelSpec("rms_norm", "RMSNorm in one pass (fp32 statistics, Llama casting)", _impls("rms_norm")),
    KernelSpec(
        "add_rms_norm",
        "residual add fused with RMSNorm: returns (norm(x + residual), x + residual)",
        _impls("add_rms_norm"),
    ),
    KernelSpec(
        "rope",
        "rotary embedding of q and k in one pass, from positions + inv_freq (or cos/sin tables)",
        _impls("rope"),
    ),
    KernelSpec("swiglu", "silu(gate) * up in one pass", _impls("swiglu")),
)


@hookimpl
def register_kernels(register: Callable[..., None]) -> None:
    for spec in BUILTIN_KERNELS:
        register(spec.name, spec)
