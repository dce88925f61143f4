"""Dynamic YaRN (the YaRN paper, section 3.3): YaRN with ``factor = max(min_factor, n / original)``
for the current length ``n``, so prompts within the original length are untouched.

``min_factor`` is 1 for a plain checkpoint; for a YaRN-fine-tuned one it is the fine-tuned factor
(the remote code's ``finetuned: true``), so the model sees its trained frequencies up to its trained
length and a growing factor beyond. (The remote ``modeling_llama_yarn.py`` grows the factor as
``n / max_position_embeddings`` in one place and ``n / original`` in another; this follows the paper.)
"""

from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, vllm_settings
from zhllama.core.rope_scaling.formulas import check_factor
from zhllama.core.rope_scaling.method import RopeMethod, RuntimeSettings, Shape, Target
from zhllama.core.rope_scaling.yarn import llama_cpp_kwargs, mscale, original_length, params_inv_freq

REACH = 4
TRANSFORMERS_TYPE = "zhllama_dynamic_yarn"


def factor_at(params: Mapping[str, Any], shape: Shape, n: int) -> float:
    return max(
        check_factor("dynamic_yarn", params["min_factor"], "min_factor"), n / original_length(params, shape)
    )


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    n = shape.max_position_embeddings if seq_len is None else int(seq_len)
    factor = factor_at(params, shape, n)
    return params_inv_freq(params, shape, factor), mscale(factor)


def choose(target: Target) -> dict[str, Any]:
    ckpt = target.checkpoint
    if ckpt.kind == "yarn":
        return {"original_max_position_embeddings": ckpt.original_length, "min_factor": ckpt.factor}
    return {"original_max_position_embeddings": ckpt.trained_length, "min_factor": 1.0}


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    return REACH * target.checkpoint.trained_length, (
        f"dynamic YaRN holds up to about {REACH}x the trained (or fine-tuned) length"
    )


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    return {
        "rope_type": TRANSFORMERS_TYPE,
        "original_max_position_embeddings": original_length(params, shape),
        "min_factor": float(params["min_factor"]),
        "beta_fast": float(params["beta_fast"]),
        "beta_slow": float(params["beta_slow"]),
        "rope_theta": shape.base,
    }


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    rope = transformers(params, shape) | {"rope_type": vllm_settings.CUSTOM_ROPE_TYPES["dynamic_yarn"]}
    static = factor_at(params, shape, target.context)
    return RuntimeSettings(
        vllm_settings.settings(rope, target.context),
        (
            vllm_settings.PLUGIN_NOTE.format(type=rope["rope_type"]),
            f"without the plugin, use static yarn with factor {static:.6g} "
            f"(original_max_position_embeddings {original_length(params, shape)}), "
            "which also changes short prompts",
        ),
    )


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    static = factor_at(params, shape, target.context)
    kwargs = llama_cpp_kwargs(params, shape, target.context, static)
    return RuntimeSettings(
        llama_cpp_settings.settings(kwargs),
        (f"llama.cpp has no dynamic YaRN: this is static YaRN at the target length (factor {static:.6g})",),
    )


METHOD = RopeMethod(
    name="dynamic_yarn",
    summary="Dynamic YaRN: factor max(min_factor, n / original), recomputed as the sequence grows",
    compute=compute,
    params={
        "original_max_position_embeddings": None,
        "min_factor": 1.0,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
    },
    depends_on_seq_len=True,
    checkpoints=frozenset({"none", "yarn"}),
    choose=choose,
    reach=reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
    extra={"transformers_type": TRANSFORMERS_TYPE},
)
