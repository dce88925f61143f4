"""Side effects kept out of the pure core: reversible patches of a loaded transformers Llama model.

- ``apply(model)`` / ``revert(model)`` / ``is_patched`` / ``kernel_patch``: zhllama's fused kernels;
- ``set_kv_cache_mode(model, "before_rope" | "default")`` / ``kv_cache_mode`` /
  ``store_kv_before_rope``: cache keys before RoPE, so length-dependent RoPE stays consistent
  while generating.

Both live in one state per model with one undo log (``model_patch``); the replacement forwards
are in ``forwards``. Any order of these calls leaves the model as its state says.
"""

from zhllama.patching.forwards import RopeAngles
from zhllama.patching.model_patch import (
    KV_CACHE_MODES,
    KernelPatch,
    apply,
    check_kv_cache_mode,
    is_patched,
    kernel_patch,
    kv_cache_mode,
    revert,
    set_kv_cache_mode,
    store_kv_before_rope,
)

__all__ = [
    "KV_CACHE_MODES",
    "KernelPatch",
    "RopeAngles",
    "apply",
    "check_kv_cache_mode",
    "is_patched",
    "kernel_patch",
    "kv_cache_mode",
    "revert",
    "set_kv_cache_mode",
    "store_kv_before_rope",
]
