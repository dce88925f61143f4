"""How llama.cpp and llama-cpp-python spell RoPE settings.

``llama_rope_scaling_type`` (llama.cpp ``include/llama.h``): UNSPECIFIED = -1, NONE = 0,
LINEAR = 1, YARN = 2, LONGROPE = 3 (MAX_VALUE = LONGROPE). llama-cpp-python's ``Llama(...)`` takes
the same numbers as ``rope_scaling_type`` and defaults to ``yarn_ext_factor=-1.0``,
``yarn_attn_factor=1.0``, ``yarn_beta_fast=32.0``, ``yarn_beta_slow=1.0``, ``yarn_orig_ctx=0``.
ggml's YaRN multiplies cos/sin by ``yarn_attn_factor * (1 + 0.1 * ln(1 / rope_freq_scale))`` itself,
so the paper's mscale is *not* passed in ``yarn_attn_factor`` (1.0 gives the paper's value).
llama.cpp has no sequence-length dependent ("dynamic") RoPE: such methods become static settings.
"""

from typing import Any

ROPE_SCALING_TYPE = {"unspecified": -1, "none": 0, "linear": 1, "yarn": 2, "longrope": 3}
GGML_TYPE_F32 = 0
"""``ggml_type`` of float32, for ``type_k`` (``--cache-type-k f32``)."""
_GGML_TYPE_NAMES = {GGML_TYPE_F32: "f32", 1: "f16"}

_FLAGS = (
    ("n_ctx", "-c"),
    ("rope_scaling_type", "--rope-scaling"),
    ("rope_freq_scale", "--rope-scale"),
    ("rope_freq_base", "--rope-freq-base"),
    ("yarn_orig_ctx", "--yarn-orig-ctx"),
    ("yarn_ext_factor", "--yarn-ext-factor"),
    ("yarn_attn_factor", "--yarn-attn-factor"),
    ("yarn_beta_fast", "--yarn-beta-fast"),
    ("yarn_beta_slow", "--yarn-beta-slow"),
    ("type_k", "--cache-type-k"),
)
_TYPE_NAMES = {number: name for name, number in ROPE_SCALING_TYPE.items()}


def cli_flags(kwargs: dict[str, Any]) -> list[str]:
    """The ``llama-cli`` / ``llama-server`` flags equivalent to llama-cpp-python ``kwargs``.

    ``--rope-scale N`` is the context expansion factor, i.e. ``1 / rope_freq_scale``.
    """
    flags: list[str] = []
    for key, flag in _FLAGS:
        if key not in kwargs:
            continue
        value = kwargs[key]
        if key == "rope_scaling_type":
            flags += [flag, _TYPE_NAMES[value]]
        elif key == "type_k":
            flags += [flag, _GGML_TYPE_NAMES[value]]
        elif key == "rope_freq_scale":
            flags += [flag, f"{1.0 / value:.10g}"]
        elif isinstance(value, float):
            flags += [flag, f"{value:.10g}"]
        else:
            flags += [flag, str(value)]
    return flags


def settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``{"kwargs": ..., "cli": [...]}`` for one set of llama-cpp-python keyword arguments."""
    return {"kwargs": dict(kwargs), "cli": cli_flags(kwargs)}
