"""transformers' dynamic NTK: for ``n > max_position_embeddings`` the base becomes
``b * (factor * n / max_position_embeddings - (factor - 1)) ** (d / (d - 2))``.

With ``factor = 2`` it is the family's ``auto`` without PI. It cannot be combined with PI, so it
only suits plain-RoPE checkpoints.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, vllm_settings
from zhllama.core.rope_scaling.formulas import check_factor, default_inv_freq
from zhllama.core.rope_scaling.method import REQUIRED, RopeMethod, RuntimeSettings, Shape, Target

REACH = 4


def dynamic_base(base: float, factor: float, n: int, max_position_embeddings: int, head_dim: int) -> float:
    n = max(n, max_position_embeddings)
    return float(base * (factor * n / max_position_embeddings - (factor - 1)) ** (head_dim / (head_dim - 2)))


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    factor = check_factor("dynamic", params["factor"])
    n = shape.max_position_embeddings if seq_len is None else int(seq_len)
    base = dynamic_base(shape.base, factor, n, shape.max_position_embeddings, shape.head_dim)
    return default_inv_freq(shape.head_dim, base), 1.0


def choose(target: Target) -> dict[str, Any]:
    return {"factor": max(1.0, target.context / target.checkpoint.trained_length)}


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    return REACH * target.checkpoint.trained_length, (
        f"NTK without fine-tuning holds up to about {REACH}x the trained length"
    )


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    return {"rope_type": "dynamic", "factor": float(params["factor"]), "rope_theta": shape.base}


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    rope = transformers(params, shape) | {"rope_type": vllm_settings.CUSTOM_ROPE_TYPES["dynamic"]}
    return RuntimeSettings(
        vllm_settings.settings(rope, target.context),
        (
            "vLLM's own 'dynamic' builds one static table at the maximum length (it does not follow "
            "the prompt length), so the custom type is emitted instead",
            vllm_settings.PLUGIN_NOTE.format(type=rope["rope_type"]),
        ),
    )


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    base = dynamic_base(
        shape.base, float(params["factor"]), target.context, shape.max_position_embeddings, shape.head_dim
    )
    kwargs = {
        "n_ctx": target.context,
        "rope_scaling_type": llama_cpp_settings.ROPE_SCALING_TYPE["none"],
        "rope_freq_scale": 1.0,
        "rope_freq_base": base,
    }
    return RuntimeSettings(
        llama_cpp_settings.settings(kwargs),
        ("llama.cpp has no dynamic NTK: this is the fixed base dynamic NTK reaches at the target length",),
    )


METHOD = RopeMethod(
    name="dynamic",
    summary="transformers' dynamic NTK (base grows with the sequence length)",
    compute=compute,
    params={"factor": REQUIRED},
    depends_on_seq_len=True,
    checkpoints=frozenset({"none"}),
    choose=choose,
    reach=reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
)
