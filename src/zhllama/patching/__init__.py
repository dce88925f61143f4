"""Side effects kept out of the pure core: patching a loaded transformers Llama model.

Two reversible, per-instance patches: the fused kernels (here, from ``llama``) and the
store-keys-before-RoPE cache mode (``kv_before_rope``). For the kernels, ``apply(model)`` swaps
the forward of the model's RMSNorm, rotary embedding, attention, MLP and decoder-layer modules for
ones that call ``zhllama.core.kernels`` (chosen per device and dtype by
``zhllama.core.kernels.dispatch``); ``revert(model)`` restores them exactly. Other models and
transformers' classes are untouched.
"""

from zhllama.patching.llama import KernelPatch, RopeAngles, apply, is_patched, revert

__all__ = ["KernelPatch", "RopeAngles", "apply", "is_patched", "revert"]
