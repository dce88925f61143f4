"""zhllama's length-dependent RoPE methods as vLLM rotary embeddings.

vLLM applies RoPE from one precomputed cos/sin table indexed by position, shared by every
sequence of a batch, so a method that depends on the sequence length (the family's adaptive
"auto" NTK, PI + auto NTK, transformers' dynamic NTK, dynamic YaRN) is served as the table it
gives at the served ``max_model_len``: the correct NTK-aware base for that length, and positions
divided by the checkpoint's PI factor. Unlike upstream's per-forward recomputation, prompts
shorter than the trained length then see that base too (as with vLLM's own ``dynamic``, whose base
formula is moreover constant in the length, vllm#41236).

The numbers come from zhllama's core (``zhllama.core.rope_scaling.inv_freq``), so vLLM and
transformers cannot drift apart. This module imports torch and vLLM: only the vLLM plugin loads it.
"""

from collections.abc import Mapping
from typing import Any

import torch
from vllm.model_executor.layers.rotary_embedding.base import RotaryEmbedding

from zhllama.core.rope_scaling import get_method, inv_freq
from zhllama.core.rope_scaling.vllm_settings import CUSTOM_ROPE_TYPES
from zhllama.errors import RopeScalingError

METHOD_FOR_TYPE = {rope_type: method for method, rope_type in CUSTOM_ROPE_TYPES.items()}
"""vLLM rope type -> zhllama method name, for the types this plugin adds."""

# Keys vLLM or the rendered overrides may put next to a method's own parameters.
STRUCTURAL_KEYS = frozenset({"rope_type", "type", "rope_theta", "partial_rotary_factor", "max_model_len"})


class ZhllamaRotaryEmbedding(RotaryEmbedding):
    """A vLLM ``RotaryEmbedding`` whose cos/sin table is computed by a zhllama method.

    ``max_position_embeddings`` is the table length (the served ``max_model_len`` or more);
    ``inv_freq`` and ``attention_scaling`` are what the method gives for that length.
    """

    def __init__(
        self,
        head_size: int,
        rotary_dim: int,
        max_position_embeddings: int,
        base: float,
        is_neox_style: bool,
        dtype: torch.dtype,
        *,
        method: str,
        inv_freq: torch.Tensor,
        attention_scaling: float,
    ) -> None:
        self.zhllama_method = method
        self.zhllama_inv_freq = inv_freq.to(torch.float32)
        self.zhllama_attention_scaling = float(attention_scaling)
        super().__init__(head_size, rotary_dim, max_position_embeddings, base, is_neox_style, dtype)

    def _compute_cos_sin_cache(self) -> torch.Tensor:
        positions = torch.arange(self.max_position_embeddings, dtype=torch.float32)
        freqs = torch.outer(positions, self.zhllama_inv_freq)
        scaling = self.zhllama_attention_scaling
        return torch.cat((freqs.cos() * scaling, freqs.sin() * scaling), dim=-1)


def is_zhllama_type(rope_parameters: Mapping[str, Any] | None) -> bool:
    """True when ``rope_parameters`` names a rope type this plugin owns (``zhllama_*``)."""
    rope_type = (rope_parameters or {}).get("rope_type")
    return isinstance(rope_type, str) and rope_type.startswith("zhllama_")


def method_params(rope_parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The zhllama method and its resolved parameters for a ``zhllama_*`` ``rope_parameters`` dict.

    Raises ``RopeScalingError`` for an unknown type, a parameter the method does not take, or a
    missing or invalid value, naming the offending setting and what is expected.
    """
    rope_type = rope_parameters.get("rope_type")
    if rope_type not in METHOD_FOR_TYPE:
        raise RopeScalingError(
            f"vLLM rope_parameters name the unknown zhllama rope type {rope_type!r}: "
            f"zhllama's vLLM plugin provides {', '.join(sorted(METHOD_FOR_TYPE))}. "
            "Regenerate the settings with `zhllama vllm args MODEL_DIR --context N`."
        )
    method = get_method(METHOD_FOR_TYPE[rope_type])
    given = {key: value for key, value in rope_parameters.items() if key not in STRUCTURAL_KEYS}
    try:
        params = method.resolve(given)
    except RopeScalingError as exc:
        raise RopeScalingError(f"vLLM rope_parameters {dict(rope_parameters)}: {exc}") from exc
    return method.name, params


def _positive_int(rope_parameters: Mapping[str, Any], key: str) -> int | None:
    value = rope_parameters.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RopeScalingError(
            f"vLLM rope_parameters {key} must be a positive whole number of tokens, got {value!r}"
        )
    return value


def build(
    head_size: int,
    rotary_dim: int,
    max_position: int,
    is_neox_style: bool,
    rope_parameters: Mapping[str, Any],
    dtype: torch.dtype,
    served_max_model_len: int | None = None,
) -> ZhllamaRotaryEmbedding:
    """The rotary embedding of a ``zhllama_*`` rope type.

    ``max_position`` is the model's ``max_position_embeddings`` (the trained length, which the
    formulas measure lengths against). The table is computed for the served length: the engine's
    ``served_max_model_len`` when known, else the ``max_model_len`` recorded in the parameters,
    else ``max_position``; it never holds fewer than ``max_position`` positions.
    """
    method, params = method_params(rope_parameters)
    base = rope_parameters.get("rope_theta", 10000.0)
    if isinstance(base, bool) or not isinstance(base, int | float) or base <= 1:
        raise RopeScalingError(f"vLLM rope_parameters rope_theta must be a number > 1, got {base!r}")
    length = served_max_model_len or _positive_int(rope_parameters, "max_model_len") or max_position
    table, scaling = inv_freq(
        method,
        params,
        head_dim=rotary_dim,
        base=float(base),
        max_position_embeddings=int(max_position),
        seq_len=int(length),
    )
    return ZhllamaRotaryEmbedding(
        head_size,
        rotary_dim,
        max(int(length), int(max_position)),
        float(base),
        is_neox_style,
        dtype,
        method=method,
        inv_freq=table,
        attention_scaling=scaling,
    )
