"""The formulas the methods share: plain RoPE frequencies, the NTK-aware base, the family's alpha.

Nothing here imports torch at import time; ``default_inv_freq`` imports it when called.
"""

from typing import Any

from zhllama.errors import RopeScalingError


def default_inv_freq(head_dim: int, base: float) -> Any:
    """Plain RoPE: ``1 / base ** (2i / d)`` in float32, the way transformers computes it."""
    import torch

    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype=torch.float) / head_dim
    return 1.0 / (base**exponents)


def ntk_base(base: float, alpha: float, head_dim: int) -> float:
    """NTK-aware base for a stretch ``alpha``: ``b * alpha ** (d / (d - 2))``."""
    return float(base * alpha ** (head_dim / (head_dim - 2)))


def alpha_for(context: int, max_position_embeddings: int, coeff: float = 1.0) -> float:
    """The family's alpha for a length (``auto``'s formula), at least 1."""
    return max(1.0, (context / (max_position_embeddings / 2) - 1) * coeff)


def check_factor(name: str, value: Any, what: str = "factor") -> float:
    """A scaling factor must be a finite number >= 1 (1 means no scaling)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value < float("inf"):
        raise RopeScalingError(
            f"rope method {name!r}: {what} must be a number >= 1 (1 = no scaling), got {value!r}; "
            "a factor below 1 would shrink the context instead of extending it"
        )
    return float(value)
