"""zhllama: the Chinese-LLaMA-2 / Chinese-Alpaca-2 family, first-class in the tools people use.

Importing this package is cheap: torch, transformers and every ecosystem package are imported
only by the functions that need them.
"""

from typing import TYPE_CHECKING, Any

from zhllama.errors import ZhllamaError

__version__ = "0.1.0"
__all__ = ["ZhllamaError", "__version__", "load"]

if TYPE_CHECKING:
    from zhllama.checkpoints.model_loader import load


def __getattr__(name: str) -> Any:
    if name == "load":
        from zhllama.checkpoints.model_loader import load

        return load
    raise AttributeError(f"module 'zhllama' has no attribute {name!r}")
