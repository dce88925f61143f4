"""YaRN (Peng et al. 2023): NTK-by-parts interpolation plus an attention temperature.

Dimensions rotating more than ``beta_fast`` times within ``original_max_position_embeddings``
keep their frequency, those rotating fewer than ``beta_slow`` times are interpolated by ``factor``,
with a linear ramp between (the ramp's ends floored/ceiled when ``truncate``, as in the remote code
and llama.cpp); cos/sin are multiplied by ``attention_factor``, by default the paper's mscale
``0.1 * ln(factor) + 1``. The 64K checkpoints were fine-tuned with factor 16 over 4096 tokens.

Checked against jquesnelle/yarn ``scaled_rope/LlamaYaRNScaledRotaryEmbedding.py`` (the remote code
of the 64K checkpoints) and transformers' ``_compute_yarn_parameters``: same formula; transformers
also accepts DeepSeek's ``mscale``/``mscale_all_dim`` (unused here) and ignores ``finetuned``.
"""

import math
from collections.abc import Mapping
from typing import Any

from zhllama.core.rope_scaling import llama_cpp_settings, vllm_settings
from zhllama.core.rope_scaling.formulas import check_factor
from zhllama.core.rope_scaling.method import REQUIRED, RopeMethod, RuntimeSettings, Shape, Target

UNTUNED_REACH = 2


def mscale(factor: float) -> float:
    """The paper's attention temperature correction ``0.1 * ln(s) + 1`` (1 for s <= 1)."""
    return 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0


def correction_range(
    beta_fast: float, beta_slow: float, head_dim: int, base: float, original: int, truncate: bool
) -> tuple[float, float]:
    """The dimension indices (of ``head_dim // 2``) where the ramp starts and ends."""

    def dim_for(rotations: float) -> float:
        return head_dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = dim_for(beta_fast), dim_for(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, head_dim - 1)


def yarn_inv_freq(
    factor: float,
    *,
    head_dim: int,
    base: float,
    original: int,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    truncate: bool = True,
) -> Any:
    import torch

    pos_freqs = base ** (torch.arange(0, head_dim, 2).to(dtype=torch.float) / head_dim)
    extrapolation = 1.0 / pos_freqs
    interpolation = 1.0 / (factor * pos_freqs)
    low, high = correction_range(beta_fast, beta_slow, head_dim, base, original, truncate)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    keep = 1 - ramp
    return interpolation * (1 - keep) + extrapolation * keep


def original_length(params: Mapping[str, Any], shape: Shape) -> int:
    """The pre-extension length the ramp is measured over (default: ``max_position_embeddings``)."""
    return int(params["original_max_position_embeddings"] or shape.max_position_embeddings)


def params_inv_freq(params: Mapping[str, Any], shape: Shape, factor: float) -> Any:
    """``yarn_inv_freq`` at ``factor`` with the ramp settings in ``params`` (YaRN's or dynamic YaRN's)."""
    return yarn_inv_freq(
        factor,
        head_dim=shape.head_dim,
        base=shape.base,
        original=original_length(params, shape),
        beta_fast=float(params["beta_fast"]),
        beta_slow=float(params["beta_slow"]),
        truncate=bool(params.get("truncate", True)),
    )


def compute(params: Mapping[str, Any], shape: Shape, seq_len: int | None) -> tuple[Any, float]:
    factor = check_factor("yarn", params["factor"])
    attention = params["attention_factor"]
    return params_inv_freq(params, shape, factor), float(mscale(factor) if attention is None else attention)


def choose(target: Target) -> dict[str, Any]:
    ckpt = target.checkpoint
    if ckpt.kind == "yarn":
        return {"factor": ckpt.factor, "original_max_position_embeddings": ckpt.original_length}
    return {
        "factor": max(1.0, target.context / ckpt.trained_length),
        "original_max_position_embeddings": ckpt.trained_length,
    }


def reach(target: Target, params: Mapping[str, Any]) -> tuple[int, str]:
    ckpt = target.checkpoint
    if ckpt.kind == "yarn":
        return ckpt.trained_length, (
            f"the checkpoint was fine-tuned with YaRN factor {ckpt.factor:g} up to "
            f"{ckpt.trained_length} tokens; dynamic_yarn goes further"
        )
    return UNTUNED_REACH * ckpt.trained_length, (
        f"static YaRN without fine-tuning holds up to about {UNTUNED_REACH}x the trained length; "
        "try dynamic_yarn"
    )


def transformers(params: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    rope = {
        "rope_type": "yarn",
        "factor": float(params["factor"]),
        "original_max_position_embeddings": original_length(params, shape),
        "beta_fast": float(params["beta_fast"]),
        "beta_slow": float(params["beta_slow"]),
        "rope_theta": shape.base,
    }
    if params["attention_factor"] is not None:
        rope["attention_factor"] = float(params["attention_factor"])
    if not params["truncate"]:
        rope["truncate"] = False
    return rope


def to_vllm(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    return RuntimeSettings(vllm_settings.settings(transformers(params, shape), target.context))


def llama_cpp_kwargs(params: Mapping[str, Any], shape: Shape, context: int, factor: float) -> dict[str, Any]:
    attention = params.get("attention_factor")
    return {
        "n_ctx": context,
        "rope_scaling_type": llama_cpp_settings.ROPE_SCALING_TYPE["yarn"],
        "rope_freq_scale": 1.0 / factor,
        "rope_freq_base": shape.base,
        "yarn_orig_ctx": original_length(params, shape),
        "yarn_ext_factor": 1.0,
        # ggml applies the paper's mscale itself; only a deviation from it goes here
        "yarn_attn_factor": 1.0 if attention is None else float(attention) / mscale(factor),
        "yarn_beta_fast": float(params["beta_fast"]),
        "yarn_beta_slow": float(params["beta_slow"]),
    }


def to_llama_cpp(params: Mapping[str, Any], shape: Shape, target: Target) -> RuntimeSettings:
    kwargs = llama_cpp_kwargs(params, shape, target.context, float(params["factor"]))
    notes = ()
    if not params["truncate"]:
        notes = ("llama.cpp always floors/ceils the YaRN ramp ends; truncate=False is not expressible",)
    return RuntimeSettings(llama_cpp_settings.settings(kwargs), notes)


METHOD = RopeMethod(
    name="yarn",
    summary="YaRN: NTK-by-parts interpolation with attention temperature 0.1*ln(s)+1",
    compute=compute,
    params={
        "factor": REQUIRED,
        "original_max_position_embeddings": None,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "attention_factor": None,
        "truncate": True,
    },
    depends_on_seq_len=False,
    checkpoints=frozenset({"none", "yarn"}),
    choose=choose,
    reach=reach,
    transformers=transformers,
    vllm=to_vllm,
    llama_cpp=to_llama_cpp,
)
