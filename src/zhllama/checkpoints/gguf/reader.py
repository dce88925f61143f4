"""What a GGUF file says about its checkpoint, as the config.json dict the RoPE planner reads."""

import os
from typing import Any

from zhllama.errors import ModelLoadError


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """A config.json-like dict (``max_position_embeddings``, ``rope_theta``, ``head_dim``,
    ``rope_scaling``) from a ``llama`` GGUF's metadata, without loading its tensors."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # gguf raises IndexError, ValueError, struct errors... on a damaged file
        raise ModelLoadError(
            f"{str(path)!r} is not a readable GGUF file ({type(exc).__name__}: {exc}): is it complete? "
            "Export it again (zhllama gguf export MODEL_DIR OUT.gguf)"
        ) from exc

    def value(key: str, default: Any = None) -> Any:
        field = reader.get_field(key)
        return default if field is None else field.contents()

    try:
        return _config(path, value)
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise ModelLoadError(
            f"{str(path)!r} has metadata zhllama cannot read ({exc}): export it again"
        ) from exc


def _config(path: str | os.PathLike, value: Any) -> dict[str, Any]:
    arch = value("general.architecture")
    if arch != "llama":
        raise ModelLoadError(f"{str(path)!r} is a {arch!r} GGUF; zhllama plans RoPE for 'llama' models only")
    heads = int(value("llama.attention.head_count"))
    hidden = int(value("llama.embedding_length"))
    config: dict[str, Any] = {
        "model_type": "llama",
        "max_position_embeddings": int(value("llama.context_length")),
        "rope_theta": float(value("llama.rope.freq_base", 10000.0)),
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "head_dim": int(value("llama.rope.dimension_count", hidden // heads)),
    }
    scaling = value("llama.rope.scaling.type")
    if scaling in ("linear", "yarn"):
        entry: dict[str, Any] = {"type": scaling, "factor": float(value("llama.rope.scaling.factor"))}
        if scaling == "yarn":
            entry["original_max_position_embeddings"] = int(
                value("llama.rope.scaling.original_context_length")
            )
            entry["finetuned"] = True
        config["rope_scaling"] = entry
    return config
