"""A self-speculative draft cut from a model itself: ``derive_draft``.

Speculative decoding needs a draft model with the target's vocabulary. The family's published
drafts are Chinese-LLaMA-2-1.3B / Chinese-Alpaca-2-1.3B; where none is at hand (the tiny test model,
a CI machine), the target's own first layers with its embeddings, final norm and output head make
one without any training ("layer skipping": the draft is the target's early exit). It agrees with
the target less often than a trained draft does, but it always shares its tokenizer, runs in every
runtime (transformers, a GGUF export for llama.cpp, a folder for vLLM) and keeps speculation testable
on a CPU.
"""

import os
import re
import shutil
from pathlib import Path

from zhllama.checkpoints.model_loader import check_model_folder
from zhllama.core.model_config import read_model_config
from zhllama.errors import ModelLoadError

_LAYER = re.compile(r"^model\.layers\.(\d+)\.")
_MODEL_FILES = (
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
)


def derive_draft(model_dir: str | os.PathLike, out_dir: str | os.PathLike, *, layers: int = 1) -> Path:
    """Write the first ``layers`` decoder layers of ``model_dir`` (with its embeddings, final norm and
    head, and its tokenizer) as a model folder at the new path ``out_dir``; return ``out_dir``."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    source = Path(model_dir).expanduser()
    check_model_folder(source)
    config = read_model_config(source)
    total = int(config.get("num_hidden_layers") or 0)
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers < total:
        raise ModelLoadError(f"`layers` must be 1..{total - 1} (the model has {total}), got {layers!r}")
    target = Path(out_dir).expanduser()
    if target.exists():
        raise ModelLoadError(f"`out_dir` {str(target)!r} exists: choose a new folder")
    tensors = {}
    for file in sorted(source.glob("*.safetensors")):
        with safe_open(file, framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
                layer = _LAYER.match(name)
                if layer is None or int(layer.group(1)) < layers:
                    tensors[name] = weights.get_tensor(name).contiguous()
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        save_file(tensors, str(partial / "model.safetensors"), metadata={"format": "pt"})
        drafted = {**config, "num_hidden_layers": layers}
        (partial / "config.json").write_text(json.dumps(drafted, indent=2) + "\n", encoding="utf-8")
        for name in _MODEL_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, partial / name)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target
