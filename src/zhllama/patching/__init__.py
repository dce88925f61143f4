"""Side effects kept out of the pure core: reversible patches of a loaded Llama model and a tokenizer class.

- ``apply(model)`` / ``revert(model)`` / ``is_patched`` / ``kernel_patch``: zhllama's fused kernels;
- ``set_kv_cache_mode(model, "before_rope" | "default")`` / ``kv_cache_mode`` /
  ``store_kv_before_rope``: cache keys before RoPE, so length-dependent RoPE stays consistent
  while generating;
- ``set_grouped_attention(model, group=G, window=W)`` / ``grouped_attention_settings``: the
  ``selfextend`` method's grouped attention (``grouped_attention``).

All three live in one state per model with one undo log (``model_patch``); the replacement forwards
are in ``forwards``. Any order of these calls leaves the model as its state says.

One patch is of a class, not a model: ``install_exact_decoding()`` makes transformers'
``SentencePieceBackend`` decode byte-fallback pieces as SentencePiece does
(``sentencepiece_decoding``; ``uninstall_exact_decoding()`` undoes it).
"""

from zhllama.patching.forwards import RopeAngles
from zhllama.patching.model_patch import (
    KV_CACHE_MODES,
    KernelPatch,
    apply,
    check_kv_cache_mode,
    grouped_attention_settings,
    is_patched,
    kernel_patch,
    kv_cache_mode,
    revert,
    set_grouped_attention,
    set_kv_cache_mode,
    store_kv_before_rope,
)
from zhllama.patching.sentencepiece_decoding import (
    exact_decoding_installed,
    install_exact_decoding,
    uninstall_exact_decoding,
)

__all__ = [
    "KV_CACHE_MODES",
    "KernelPatch",
    "RopeAngles",
    "apply",
    "check_kv_cache_mode",
    "exact_decoding_installed",
    "grouped_attention_settings",
    "install_exact_decoding",
    "is_patched",
    "kernel_patch",
    "kv_cache_mode",
    "revert",
    "set_grouped_attention",
    "set_kv_cache_mode",
    "store_kv_before_rope",
    "uninstall_exact_decoding",
]
