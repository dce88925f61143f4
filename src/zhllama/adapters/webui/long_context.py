"""Long context in webui after it removed ``alpha_value`` / ``rope_freq_base`` / ``compress_pos_emb``.

The route: after webui has built a model (``loading`` wraps its Transformers loader, and adopts the
model ``--model`` loaded before the extension's ``setup()``), ``apply_rope_plan`` plans RoPE scaling
for the folder's config.json and the target length (``zhllama.core.rope_scaling.plan``), sets
``rope_parameters`` and ``max_position_embeddings`` on the model's config and rebuilds the rotary
embedding from it: the same module transformers would have built had the config said so before load
(RoPE has no trained weights; ``inv_freq`` is a non-persistent buffer).

Why not the alternatives: writing config.json changes a folder the user owns (other tools would
read the scaling too, and PI hurts short prompts); webui passes no ``config=`` to
``from_pretrained`` and has no hook before it, so "before load" would mean patching transformers
itself for every model. GGUF models under the llama.cpp loader take their settings from
``zhllama rope plan --runtime llamacpp`` (webui's ``extra-flags``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhllama.errors import RopeScalingError


@dataclass(frozen=True)
class AppliedPlan:
    """What was applied to the loaded model: the method, its settings, the lengths involved."""

    method: str
    rope_parameters: dict[str, Any]
    trained_length: int
    target_context: int


def rope_plan_for_folder(folder: str | Path, target_context: int):
    """The ``RopePlan`` for a model folder at ``target_context``, or None when no scaling is needed.

    None for a target at or below the trained length and for a folder without config.json
    (a GGUF file); raises ``RopeScalingError`` for a config zhllama cannot plan for.
    """
    from zhllama.core import rope_scaling
    from zhllama.core.model_config import config_path, read_model_config

    if not config_path(folder).is_file():
        return None
    config = read_model_config(folder)
    if target_context <= rope_scaling.describe(config).trained_length:
        return None
    return rope_scaling.plan(config, target_context, runtime="webui")


def apply_rope_plan(model: Any, rope_plan: Any) -> AppliedPlan:
    """Set the plan's config attributes on ``model`` and rebuild its rotary embedding in place."""
    from zhllama.core.rope_scaling import register_transformers_rope_types

    backbone = getattr(model, "model", model)
    rotary = getattr(backbone, "rotary_emb", None)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise RopeScalingError(
            f"{type(model).__name__} has no shared rotary embedding (model.model.rotary_emb): zhllama's "
            "webui long-context mode supports Llama-architecture models loaded with the Transformers loader"
        )
    register_transformers_rope_types()
    updates = rope_plan.transformers_config()
    for key, value in updates.items():
        setattr(model.config, key, value)
    backbone.rotary_emb = type(rotary)(config=model.config).to(rotary.inv_freq.device)
    return AppliedPlan(
        method=rope_plan.method,
        rope_parameters=dict(updates["rope_parameters"]),
        trained_length=int(rope_plan.checkpoint.trained_length),
        target_context=int(rope_plan.target_context),
    )
