"""zhllama's sequence-length dependent methods as transformers rope types.

transformers 5 looks up ``config.rope_parameters["rope_type"]`` in
``modeling_rope_utils.ROPE_INIT_FUNCTIONS`` and, for any type whose name *contains* "dynamic",
recomputes ``inv_freq`` in the forward pass when the sequence grows past the longest length seen
(and resets to the load-time values for sequences shorter than ``max_position_embeddings``). Our
types are named ``zhllama_dynamic_*`` for that reason. Registering them is an explicit call
(``register_transformers_rope_types``), idempotent, never an import side effect.

One difference from upstream's patch: upstream recomputes "auto" from the current length on every
forward, while transformers keeps the largest length seen since the last reset, so a model that
saw 16K tokens and then gets a fresh 8K prompt (both above the trained length) keeps the 16K base
for it. Fresh models and growing generations behave identically.
"""

from collections.abc import Callable
from typing import Any

from zhllama.core.rope_scaling.method import Shape


def _init_function(method_name: str) -> Callable[..., tuple[Any, float]]:
    def compute(config: Any, device: Any = None, seq_len: Any = None, layer_type: str | None = None):
        from zhllama.core.rope_scaling.registry import get_method

        method = get_method(method_name)
        config.standardize_rope_params()
        rope = config.rope_parameters[layer_type] if layer_type is not None else config.rope_parameters
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        head_dim = int(head_dim * rope.get("partial_rotary_factor", 1.0))
        params = method.resolve({key: rope[key] for key in method.params if key in rope})
        shape = Shape(head_dim, float(rope["rope_theta"]), int(config.max_position_embeddings))
        n = None if seq_len is None else int(seq_len)
        inv_freq, scaling = method.compute(params, shape, n)
        return inv_freq.to(device) if device is not None else inv_freq, scaling

    compute.__name__ = f"_zhllama_{method_name}_rope_parameters"
    return compute


def _validation_function(method_name: str) -> Callable[..., None]:
    """transformers' ``_validate_<type>_rope_parameters`` for a zhllama type: the method's own check
    of its parameters (without it transformers logs "Missing validation function" on every load)."""

    def validate(config: Any, rope_parameters: dict[str, Any], ignore_keys: Any = None) -> None:
        from zhllama.core.rope_scaling.registry import get_method

        method = get_method(method_name)
        method.resolve({key: rope_parameters[key] for key in method.params if key in rope_parameters})

    return validate


def transformers_types() -> dict[str, str]:
    """transformers rope type name -> zhllama method name, for every method that needs one."""
    from zhllama.core.rope_scaling.registry import methods

    return {
        method.extra["transformers_type"]: name
        for name, method in methods().items()
        if method.extra.get("transformers_type")
    }


def register_transformers_rope_types() -> list[str]:
    """Add zhllama's rope types to transformers' ``ROPE_INIT_FUNCTIONS`` (and their parameter
    checks to its config validation); return their names.

    Safe to call many times: an entry we added before is replaced by an equivalent one.
    """
    from transformers import modeling_rope_utils

    names = []
    for type_name, method_name in transformers_types().items():
        if "dynamic" not in type_name:
            raise ValueError(f"transformers rope type {type_name!r} must contain 'dynamic' to recompute")
        modeling_rope_utils.ROPE_INIT_FUNCTIONS[type_name] = _init_function(method_name)
        setattr(
            modeling_rope_utils.RotaryEmbeddingConfigMixin,
            f"_validate_{type_name}_rope_parameters",
            _validation_function(method_name),
        )
        names.append(type_name)
    return names
