"""How vLLM takes RoPE settings: ``LLM(model, hf_overrides={"rope_parameters": {...}}, max_model_len=N)``
or ``vllm serve MODEL --hf-overrides '{...}' --max-model-len N`` (its ``--rope-scaling`` flag was
removed).

vLLM's ``dynamic`` builds one static table at the maximum length and its ``ntk`` is not the NTK-aware
formula (vllm#41236), so the sequence-length dependent methods are emitted as the custom rope types
below, which only zhllama's vLLM plugin (``zhllama.adapters.vllm_rope``) understands.
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
    """Engine keyword arguments plus the equivalent ``vllm serve`` flags."""
    overrides = {"rope_parameters": rope_parameters}
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
