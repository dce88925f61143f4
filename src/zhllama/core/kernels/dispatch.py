"""Which implementation of each fused op runs, per device type and dtype.

``ZHLLAMA_KERNELS`` (default ``auto``):

- ``off``: nothing is patched; ``apply`` leaves the model as transformers built it;
- ``reference``: the plain-torch references everywhere (checks the patching on its own);
- ``auto``: on CUDA, Liger-Kernel for ``rms_norm``, ``add_rms_norm`` and ``swiglu`` when it is
  importable (tuned, maintained, same contract), otherwise our Triton kernels; ``rope`` always
  our Triton kernel (it takes positions + inv_freq; Liger's needs tables). On CPU, inductor
  (``torch.compile``) when a C++ compiler is found, otherwise the reference. Other devices
  (mps, xpu, ...): the reference.

Probing availability only looks for the packages (``importlib.util.find_spec``) and the compiler:
choosing imports neither torch nor triton. An op without the chosen backend gets its reference.
"""

import importlib.util
import os
import shutil
from collections.abc import Callable
from typing import Any

from zhllama.core.kernels.catalog import KERNELS
from zhllama.core.kernels.spec import BACKENDS, KernelSpec
from zhllama.errors import KernelError

ENV = "ZHLLAMA_KERNELS"
MODES = ("off", "reference", "auto")
LIGER_OPS = frozenset({"rms_norm", "add_rms_norm", "swiglu"})
FLOAT_DTYPES = ("float32", "bfloat16", "float16")
OFF = "off"


def mode(value: str | None = None) -> str:
    """The kernel mode: ``value`` if given, else ``ZHLLAMA_KERNELS``, else ``auto``."""
    chosen = (value if value is not None else os.environ.get(ENV, "auto")).strip().lower() or "auto"
    if chosen not in MODES:
        raise KernelError(f"{ENV}={chosen!r} is not a kernel mode: use one of {', '.join(MODES)}")
    return chosen


def specs() -> dict[str, KernelSpec]:
    """Every fused op by name (``catalog.KERNELS``)."""
    return dict(KERNELS)


def liger_available() -> bool:
    """Whether Liger-Kernel (and triton) can be imported; nothing is imported to find out."""
    return importlib.util.find_spec("liger_kernel") is not None and triton_available()


def triton_available() -> bool:
    """Whether triton can be imported; nothing is imported to find out."""
    return importlib.util.find_spec("triton") is not None


def compiler_available() -> bool:
    """Whether inductor's CPU backend finds a C++ compiler (``CXX``, g++, c++ or clang++)."""
    names = [os.environ.get("CXX", ""), "g++", "c++", "clang++"]
    return any(name and shutil.which(name) for name in names)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def choose(op: str, device_type: str, dtype: Any, *, kernel_mode: str | None = None) -> str:
    """The backend that runs ``op`` for tensors on ``device_type`` (cpu, cuda, ...) of ``dtype``,
    or ``"off"``; see the module docstring for the rules."""
    chosen_mode = mode(kernel_mode)
    if chosen_mode == OFF:
        return OFF
    if chosen_mode == "reference" or _dtype_name(dtype) not in FLOAT_DTYPES:
        return "reference"
    if device_type == "cuda":
        if op in LIGER_OPS and liger_available():
            return "liger"
        return "triton" if triton_available() else "reference"
    if device_type == "cpu":
        return "inductor" if compiler_available() else "reference"
    return "reference"


def kernel(op: str, device_type: str, dtype: Any, *, backend: str | None = None) -> Callable[..., Any]:
    """The implementation of ``op`` to call (``backend`` forces one, e.g. ``triton`` in tests)."""
    known = specs()
    if op not in known:
        raise KernelError(f"unknown kernel {op!r}: known kernels are {', '.join(sorted(known))}")
    spec = known[op]
    chosen = backend or choose(op, device_type, dtype)
    if chosen == OFF:
        raise KernelError(f"kernels are off ({ENV}=off): there is no {op!r} kernel to call")
    if chosen not in BACKENDS and chosen not in spec.implementations:
        raise KernelError(f"unknown kernel backend {chosen!r}: use one of {', '.join(BACKENDS)}")
    if chosen not in spec.implementations:
        chosen = "reference"
    return spec.load(chosen)


def table(
    device_types: tuple[str, ...] = ("cpu", "cuda"), dtypes: tuple[str, ...] = FLOAT_DTYPES
) -> dict[str, dict[str, str]]:
    """``{"cpu/bfloat16": {"rms_norm": "inductor", ...}, ...}``: what ``auto`` (or the mode set)
    would run; ``zhllama doctor`` prints it."""
    return {
        f"{device}/{dtype}": {op: choose(op, device, dtype) for op in specs()}
        for device in device_types
        for dtype in dtypes
    }
