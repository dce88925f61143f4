"""The family's adaptive NTK ("auto"), from upstream ``scripts/attn_and_long_ctx_patches.py``.

Only when the sequence length ``n > max_position_embeddings``:
``alpha = (n / (max_position_embeddings / 2) - 1) * AUTO_COEFF`` and the base becomes
``b * alpha ** (d / (d - 2))``, recomputed for each forward; positions are also divided by the
checkpoint's PI factor (``factor``; 1 for the 4K checkpoints, 4 for the 16K ones). Without PI it
equals transformers' ``dynamic`` with factor 2. For ``n <= max_position_embeddings`` it is plain
RoPE (with PI).
"""

import json
from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, ntk, vllm_settings
from zhllama.core.rope_scaling.formulas import alpha_for, check_factor, default_inv_freq, ntk_base
from zhllama.core.rope_scaling.method import RopeMethod, RuntimeSettings, Shape, Target

AUTO_COEFF = 1.0
TRANSFORMERS_TYPE = "zhllama_dynamic_auto"


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    factor = check_factor("auto", params["factor"])
    coeff = float(params["coeff"])
    n = shape.max_position_embeddings if seq_len is None else int(seq_len)
    base = shape.base
    if n > shape.max_position_embeddings:
        alpha = (n / (shape.max_position_embeddings / 2) - 1) * coeff
        base = ntk_base(shape.base, alpha, shape.head_dim)
    return default_inv_freq(shape.head_dim, base) / factor, 1.0


def choose(target: Target) -> dict[str, Any]:
    ckpt = target.checkpoint
    return {"factor": ckpt.factor if ckpt.kind == "linear" else 1.0, "coeff": AUTO_COEFF}


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    return {
        "rope_type": TRANSFORMERS_TYPE,
        "factor": float(params["factor"]),
        "coeff": float(params["coeff"]),
        "rope_theta": shape.base,
    }


def _static_equivalent(params: Mapping[str, Any], shape: Shape, target: Target) -> tuple[float, float]:
    alpha = alpha_for(target.context, shape.max_position_embeddings, float(params["coeff"]))
    return alpha, ntk_base(shape.base, alpha, shape.head_dim)


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    alpha, _ = _static_equivalent(params, shape, target)
    rope = transformers(params, shape) | {"rope_type": vllm_settings.CUSTOM_ROPE_TYPES["auto"]}
    static = json.dumps(ntk.transformers({"alpha": alpha, "factor": params["factor"]}, shape), sort_keys=True)
    return RuntimeSettings(
        vllm_settings.settings(rope, target.context),
        (
            vllm_settings.PLUGIN_NOTE.format(type=rope["rope_type"]),
            "without the plugin, the closest static setting is fixed NTK for "
            f"{target.context} tokens, rope_parameters {static} "
            f"(alpha {alpha:.4g}, the checkpoint's PI kept), which also changes short prompts",
        ),
    )


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    alpha, base = _static_equivalent(params, shape, target)
    factor = float(params["factor"])
    kwargs = {
        "n_ctx": target.context,
        "rope_scaling_type": llama_cpp_settings.ROPE_SCALING_TYPE["linear" if factor > 1 else "none"],
        "rope_freq_scale": 1.0 / factor,
        "rope_freq_base": base,
    }
    return RuntimeSettings(
        llama_cpp_settings.settings(kwargs),
        (
            f"llama.cpp has no adaptive NTK: this is the fixed-NTK base for the target length "
            f"(alpha {alpha:.4g}), used for every prompt length, short ones included",
        ),
    )


METHOD = RopeMethod(
    name="auto",
    summary="the family's adaptive NTK (upstream alpha='auto'), with the checkpoint's PI",
    compute=compute,
    params={"factor": 1.0, "coeff": AUTO_COEFF},
    depends_on_seq_len=True,
    checkpoints=frozenset({"none", "linear"}),
    choose=choose,
    reach=ntk.reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
    extra={"transformers_type": TRANSFORMERS_TYPE},
)
