"""Load a local Hugging Face model folder with the family's tokenizer: ``zhllama.load``."""

import os
from pathlib import Path
from typing import Any

from zhllama.errors import ModelLoadError

_DTYPES = ("float32", "bfloat16", "float16")


def _check_model_folder(path: Path) -> None:
    if not path.exists():
        looks_like_hub_id = not path.is_absolute() and str(path).count("/") == 1
        hint = ""
        if looks_like_hub_id:
            hint = (
                " It looks like a Hugging Face hub id: zhllama never downloads models (there may be no "
                f"network). Download it once, e.g. `hf download {path} --local-dir ./{path.name}`, "
                "and pass that local folder instead."
            )
        raise ModelLoadError(f"model folder {str(path)!r} does not exist.{hint}")
    if not path.is_dir():
        raise ModelLoadError(f"{str(path)!r} is not a folder: pass a model folder holding config.json")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{str(path)!r} has no config.json: pass a Hugging Face model folder")
    if not any(path.glob("*.safetensors")):
        found = sorted(p.name for p in path.glob("*.bin"))
        detail = f" (found {', '.join(found)}: convert them to safetensors first)" if found else ""
        raise ModelLoadError(
            f"{str(path)!r} holds no *.safetensors weights{detail}; zhllama loads safetensors only"
        )


def load(
    path: str | os.PathLike,
    *,
    dtype: str = "float32",
    device: str = "cpu",
) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` for a local model folder.

    The weights load from safetensors with remote code disabled; the tokenizer is zhllama's
    exact SentencePiece tokenizer (see ``zhllama.core.tokenizer.load_tokenizer``), not the
    converted one transformers would build. ``dtype`` is one of float32, bfloat16, float16.
    """
    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}: use one of {', '.join(_DTYPES)}")
    folder = Path(path).expanduser()
    _check_model_folder(folder)

    import torch
    from transformers import AutoModelForCausalLM

    from zhllama.core.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(folder)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            dtype=getattr(torch, dtype),
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=True,
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load the model in {str(folder)!r}: {exc}") from exc
    model.to(device)
    model.eval()
    return model, tokenizer
