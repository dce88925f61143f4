"""The error the kernels and the model patching raise (kept here: ``zhllama/errors.py`` is shared)."""

from zhllama.errors import ZhllamaError


class KernelError(ZhllamaError):
    """A kernel or a backend was asked for that cannot run here, or a model cannot be patched."""
