"""Fixed NTK-aware scaling: a larger base, ``b' = b * alpha ** (d / (d - 2))``, for every length.

Optionally combined with PI (``factor``: positions also divided by it), as upstream does for the
16K checkpoints. This is what llama.cpp (``rope_freq_base``) and vLLM (``rope_theta``) can express.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, vllm_settings
from zhllama.core.rope_scaling.formulas import alpha_for, check_factor, default_inv_freq, ntk_base
from zhllama.core.rope_scaling.method import REQUIRED, RopeMethod, RuntimeSettings, Shape, Target

PLAIN_REACH = 4
"""How far NTK carries a plain-RoPE checkpoint (about 4x its trained length)."""
PI_REACH = 2
"""How far NTK carries a PI-trained checkpoint beyond its fine-tuned length."""


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    alpha = check_factor("ntk", params["alpha"], "alpha")
    factor = check_factor("ntk", params["factor"])
    return default_inv_freq(shape.head_dim, ntk_base(shape.base, alpha, shape.head_dim)) / factor, 1.0


def choose(target: Target) -> dict[str, Any]:
    ckpt = target.checkpoint
    return {
        "alpha": alpha_for(target.context, ckpt.trained_length),
        "factor": ckpt.factor if ckpt.kind == "linear" else 1.0,
    }


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    """How far NTK (fixed or adaptive) carries a checkpoint without fine-tuning for it."""
    ckpt = target.checkpoint
    if ckpt.kind == "linear":
        return PI_REACH * ckpt.trained_length, (
            f"NTK on top of PI holds up to about {PI_REACH}x the fine-tuned length"
        )
    return PLAIN_REACH * ckpt.trained_length, (
        f"NTK without fine-tuning holds up to about {PLAIN_REACH}x the trained length"
    )


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    base = ntk_base(shape.base, float(params["alpha"]), shape.head_dim)
    if float(params["factor"]) == 1.0:
        return {"rope_type": "default", "rope_theta": base}
    return {"rope_type": "linear", "factor": float(params["factor"]), "rope_theta": base}


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    return RuntimeSettings(vllm_settings.settings(transformers(params, shape), target.context))


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    factor = float(params["factor"])
    kwargs = {
        "n_ctx": target.context,
        "rope_scaling_type": llama_cpp_settings.ROPE_SCALING_TYPE["linear" if factor > 1 else "none"],
        "rope_freq_scale": 1.0 / factor,
        "rope_freq_base": ntk_base(shape.base, float(params["alpha"]), shape.head_dim),
    }
    return RuntimeSettings(llama_cpp_settings.settings(kwargs))


METHOD = RopeMethod(
    name="ntk",
    summary="fixed NTK-aware base b*alpha**(d/(d-2)), optionally with PI",
    compute=compute,
    params={"alpha": REQUIRED, "factor": 1.0},
    depends_on_seq_len=False,
    checkpoints=frozenset({"none", "linear"}),
    choose=choose,
    reach=reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
)
