"""How vLLM takes RoPE settings: ``LLM(model, hf_overrides={"rope_parameters": {...}}, max_model_len=N)``
or ``vllm serve MODEL --hf-overrides '{...}' --max-model-len N`` (its ``--rope-scaling`` flag was
removed).

vLLM's ``dynamic`` builds one static table at the maximum length and its ``ntk`` is not the NTK-aware
formula (vllm#41236), so the sequence-length dependent methods are emitted as the custom rope types
below, which only zhllama's vLLM plugin (``zhllama.adapters.vllm``) understands.

What vLLM 0.33 does with the overrides decides their shape. Its Llama builds one rotary table of
``max_position_embeddings`` positions (``linear``: times the factor; ``yarn``: original length
times the factor), and it refuses a ``max_model_len`` above that derived length unless the config
has a ``model_max_length`` at least as large. So a built-in type raises ``max_position_embeddings``
to the target (as ``RopePlan.transformers_config`` does), while a custom type keeps the trained
``max_position_embeddings`` (the threshold its formula measures lengths against), sets
``model_max_length``, and records in ``max_model_len`` the length its table is built for.
"""

import json
from typing import Any

CUSTOM_ROPE_TYPES = {
    "auto": "zhllama_dynamic_auto",
    "dynamic": "zhllama_dynamic_ntk",
    "dynamic_yarn": "zhllama_dynamic_yarn",
}
"""zhllama method name -> the custom vLLM rope type our vLLM plugin must handle."""

PLUGIN_NOTE = (
    "rope type {type!r} is not built into vLLM: it needs zhllama's vLLM plugin "
    "(pip install 'zhllama[vllm]' into vLLM's environment; it wraps vLLM's get_rope). "
    "Without it vLLM refuses the type."
)


def settings(rope_parameters: dict[str, Any], max_model_len: int) -> dict[str, Any]:
    """Engine keyword arguments (``hf_overrides``, ``max_model_len``) plus the ``vllm serve`` flags."""
    rope = dict(rope_parameters)
    if rope.get("rope_type") in CUSTOM_ROPE_TYPES.values():
        rope["max_model_len"] = max_model_len
        overrides = {"rope_parameters": rope, "model_max_length": max_model_len}
    else:
        overrides = {"rope_parameters": rope, "max_position_embeddings": max_model_len}
    return {
        "hf_overrides": overrides,
        "max_model_len": max_model_len,
        "cli": [
            "--hf-overrides",
            json.dumps(overrides, sort_keys=True),
            "--max-model-len",
            str(max_model_len),
        ],
    }
