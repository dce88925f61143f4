"""HF Llama tensor names and layouts -> llama.cpp's ``llama`` GGUF tensors.

Two facts matter: the names (``model.layers.N.self_attn.q_proj.weight`` -> ``blk.N.attn_q.weight``)
and the rotary layout. HF's Llama rotates the two *halves* of each head (``rotate_half``);
llama.cpp's ``llama`` rotates adjacent *pairs*. So the rows of ``q_proj`` and ``k_proj`` are
reordered per head from ``[x0 .. x(d/2-1), y0 .. y(d/2-1)]`` to ``[x0, y0, x1, y1, ...]``, which
makes llama.cpp compute exactly what transformers computes.
"""

import re

import numpy as np

_GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_LAYER_NAME = re.compile(r"model\.layers\.(\d+)\.(.+)")
SKIPPED = ("rotary_emb.inv_freq",)


def gguf_name(hf_name: str) -> str | None:
    """The GGUF name of an HF tensor; None for buffers llama.cpp recomputes (``inv_freq``)."""
    if hf_name.endswith(SKIPPED):
        return None
    if hf_name in _GLOBAL:
        return _GLOBAL[hf_name]
    match = _LAYER_NAME.fullmatch(hf_name)
    if match and match.group(2) in _LAYER:
        return f"blk.{match.group(1)}.{_LAYER[match.group(2)]}"
    raise ValueError(f"no GGUF name for tensor {hf_name!r}: not a Llama checkpoint tensor zhllama knows")


def halves_to_pairs(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder q/k projection rows from HF's half-split rotary layout to llama.cpp's pairs."""
    rows = weight.shape[0]
    head_dim = rows // n_heads
    return weight.reshape(n_heads, 2, head_dim // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def to_gguf_layout(hf_name: str, weight: np.ndarray, n_heads: int, n_kv_heads: int) -> np.ndarray:
    """``weight`` as llama.cpp expects it under ``gguf_name(hf_name)``."""
    if hf_name.endswith("self_attn.q_proj.weight"):
        return halves_to_pairs(weight, n_heads)
    if hf_name.endswith("self_attn.k_proj.weight"):
        return halves_to_pairs(weight, n_kv_heads)
    return weight
