"""Position interpolation (PI, "linear"): positions divided by ``factor``.

The 16K checkpoints were fine-tuned with PI at factor 4 (``{"type": "linear", "factor": 4.0}``,
``max_position_embeddings`` 16384). Dividing positions equals dividing ``inv_freq`` by the factor.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, vllm_settings
from zhllama.core.rope_scaling.formulas import check_factor, default_inv_freq
from zhllama.core.rope_scaling.method import REQUIRED, RopeMethod, RuntimeSettings, Shape, Target

UNTUNED_REACH = 2
"""PI on a checkpoint not fine-tuned for it degrades quickly past about 2x (Chen et al. 2023)."""


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    factor = check_factor("linear", params["factor"])
    return default_inv_freq(shape.head_dim, shape.base) / factor, 1.0


def choose(target: Target) -> dict[str, Any]:
    ckpt = target.checkpoint
    floor = ckpt.factor if ckpt.kind == "linear" else 1.0
    return {"factor": max(floor, target.context / ckpt.original_length)}


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    ckpt = target.checkpoint
    if ckpt.kind == "linear":
        return ckpt.trained_length, (
            f"the checkpoint was fine-tuned with PI factor {ckpt.factor:g}; a larger factor is untested"
        )
    return UNTUNED_REACH * ckpt.trained_length, (
        f"PI without fine-tuning holds up to about {UNTUNED_REACH}x the trained length"
    )


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    if float(params["factor"]) == 1.0:  # no interpolation: plain RoPE, spelled as every runtime knows it
        return {"rope_type": "default", "rope_theta": shape.base}
    return {"rope_type": "linear", "factor": float(params["factor"]), "rope_theta": shape.base}


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    return RuntimeSettings(vllm_settings.settings(transformers(params, shape), target.context))


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    kwargs = {
        "n_ctx": target.context,
        "rope_scaling_type": llama_cpp_settings.ROPE_SCALING_TYPE[
            "linear" if float(params["factor"]) > 1 else "none"
        ],
        "rope_freq_scale": 1.0 / float(params["factor"]),
        "rope_freq_base": shape.base,
    }
    return RuntimeSettings(llama_cpp_settings.settings(kwargs))


METHOD = RopeMethod(
    name="linear",
    summary="position interpolation: positions / factor",
    compute=compute,
    params={"factor": REQUIRED},
    depends_on_seq_len=False,
    checkpoints=frozenset({"none", "linear"}),
    choose=choose,
    reach=reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
)
