"""RoPE scaling for the family's checkpoints: one module per method, and a planner.

- ``inv_freq(method, params, *, head_dim, base, max_position_embeddings, seq_len)``:
  ``(inv_freq, attention_scaling)`` of any registered method;
- ``describe(config)``: a ``Checkpoint``, what a config.json says about the checkpoint's training;
- ``plan(config, target_context, method=None, params=None, runtime=None)``: a ``RopePlan``
  rendering transformers, vLLM, llama.cpp and text-generation-webui settings (``selfextend``,
  grouped attention, also changes the attention: ``RopePlan.attention()``);
- ``register_transformers_rope_types()``: teach transformers the length-dependent methods.

Importing this package imports neither torch nor transformers.
"""

from zhllama.core.rope_scaling.checkpoint import describe, shipped_rope_parameters
from zhllama.core.rope_scaling.method import REQUIRED, Checkpoint, RopeMethod
from zhllama.core.rope_scaling.planning import RopePlan, RopeReachWarning, format_plan, plan
from zhllama.core.rope_scaling.registry import get_method, inv_freq, methods
from zhllama.core.rope_scaling.transformers_types import register_transformers_rope_types
from zhllama.errors import RopeScalingError

__all__ = [
    "REQUIRED",
    "Checkpoint",
    "RopeMethod",
    "RopePlan",
    "RopeReachWarning",
    "RopeScalingError",
    "describe",
    "format_plan",
    "get_method",
    "inv_freq",
    "methods",
    "plan",
    "register_transformers_rope_types",
    "shipped_rope_parameters",
]
