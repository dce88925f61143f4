"""The fused ops zhllama has, and where each backend's implementation of them lives.

It imports neither torch nor triton: implementations are named by ``"module:function"`` and
imported on first use (``KernelSpec.load``). The model patching (``zhllama.patching``) calls
exactly these four ops, so the catalogue is fixed, not a plugin registry.
"""

from zhllama.core.kernels.spec import KernelSpec

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


KERNELS = {
    spec.name: spec
    for spec in (
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
}
