"""Load a local Hugging Face model folder with the family's tokenizer: ``zhllama.load``."""

import os
import shlex
from pathlib import Path
from typing import Any

from zhllama.errors import ModelLoadError

_DTYPES = ("float32", "bfloat16", "float16")


def check_model_folder(path: Path) -> None:
    """Refuse, with what to do instead, a path that is not a local safetensors model folder."""
    if not path.exists():
        looks_like_hub_id = not path.is_absolute() and str(path).count("/") == 1
        hint = " Pass a local model folder holding config.json and *.safetensors."
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
        detail = (
            f" (found {', '.join(found)}: convert them to safetensors first, "
            f"`{shlex.join(['zhllama', 'convert', str(path), f'{path}-safetensors'])}`)"
            if found
            else ""
        )
        raise ModelLoadError(
            f"{str(path)!r} holds no *.safetensors weights{detail}; zhllama loads safetensors only"
        )


def load(
    path: str | os.PathLike,
    *,
    dtype: str = "float32",
    device: str = "cpu",
    context: int | None = None,
    rope_method: str | None = None,
    kernels: bool = False,
    kv_cache: str = "default",
    rope_params: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` for a local model folder.

    The weights load from safetensors with remote code disabled; the tokenizer is zhllama's
    exact SentencePiece tokenizer (see ``zhllama.core.tokenizer.load_tokenizer``), not the
    converted one transformers would build. ``dtype`` is one of float32, bfloat16, float16.

    ``context`` (tokens) applies ``zhllama.core.rope_scaling.plan(config, context, rope_method)``
    to the config before the model is built (``rope_method`` alone plans for the trained length);
    ``rope_params`` override the parameters the plan would choose (e.g. ``{"group": 32, "window":
    128}`` for ``selfextend``). A method that changes the attention (``selfextend``) is then
    switched on in the model (``zhllama.patching.set_grouped_attention``). Without any of them, a
    checkpoint's legacy ``rope_scaling`` (the 16K PI and 64K YaRN models) is mapped onto
    transformers' native types, so no remote code is needed.

    ``kernels=True`` patches the model with zhllama's fused kernels for its device and dtype
    (``zhllama.patching.apply``; ``ZHLLAMA_KERNELS=off`` turns it into a no-op); undo with
    ``zhllama.patching.revert(model)``.

    ``kv_cache="before_rope"`` makes the model cache keys before RoPE (upstream's
    ``STORE_KV_BEFORE_ROPE``; see ``zhllama.patching``): with a length-dependent method (``auto``,
    ``dynamic``, ``dynamic_yarn``) every cached key is then rotated with the current base.
    """
    from zhllama.patching import apply, check_kv_cache_mode, set_grouped_attention, set_kv_cache_mode

    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}: use one of {', '.join(_DTYPES)}")
    check_kv_cache_mode(kv_cache)
    folder = Path(path).expanduser()
    check_model_folder(folder)

    import torch
    from transformers import AutoModelForCausalLM

    from zhllama.core.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(folder)
    config, attention = _rope_config(folder, context, rope_method, rope_params)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            config=config,
            dtype=getattr(torch, dtype),
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=True,
        )
    except Exception as exc:  # damaged weights raise SafetensorError, OSError, RuntimeError, ...
        raise ModelLoadError(
            f"could not load the model in {str(folder)!r} ({type(exc).__name__}: {exc}): are its "
            "*.safetensors files complete? Copy or download them again"
        ) from exc
    model.to(device)
    model.eval()
    if kernels:
        apply(model)
    if kv_cache != "default":
        set_kv_cache_mode(model, kv_cache)
    if attention is not None:
        set_grouped_attention(model, **attention)
    return model, tokenizer


def _rope_config(
    folder: Path, context: int | None, rope_method: str | None, rope_params: dict[str, Any] | None
) -> tuple[Any, dict[str, Any] | None]:
    """The transformers config with the RoPE settings zhllama chose applied (see ``load``), and the
    attention change the plan needs (None for most methods)."""
    from transformers import AutoConfig

    from zhllama.core import rope_scaling
    from zhllama.core.model_config import read_model_config

    raw = read_model_config(folder)
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not read the config in {str(folder)!r}: {exc}") from exc
    attention = None
    if context is None and rope_method is None and not rope_params:
        if not raw.get("rope_scaling"):
            return config, None
        updates = {"rope_parameters": rope_scaling.shipped_rope_parameters(raw)}
    else:
        target = context if context is not None else rope_scaling.describe(raw).trained_length
        rope_plan = rope_scaling.plan(raw, target, rope_method, rope_params, runtime="transformers")
        updates = rope_plan.transformers_config()
        attention = rope_plan.attention()
        rope_scaling.register_transformers_rope_types()
    for key, value in updates.items():
        setattr(config, key, value)
    return config, attention
