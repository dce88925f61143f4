"""Side effects kept out of the pure core: patching a loaded model with zhllama's fused kernels.

``apply(model)`` swaps the forward of a transformers Llama model's RMSNorm, rotary embedding,
attention, MLP and decoder-layer modules for ones that call ``zhllama.core.kernels`` (chosen per
device and dtype by ``zhllama.core.kernels.dispatch``); ``revert(model)`` restores them exactly.
Patching is per model instance: other models and transformers' classes are untouched.
"""

from zhllama.patching.llama import KernelPatch, RopeAngles, apply, is_patched, revert

__all__ = ["KernelPatch", "RopeAngles", "apply", "is_patched", "revert"]
