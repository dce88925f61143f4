"""The one reader of a checkpoint's ``config.json``: ``read_model_config(folder or file)``.

Every part of zhllama that needs a model's configuration (loading, RoPE planning, template
choice, vLLM serving, webui's long-context mode, evaluation, GGUF export) reads it here, so a
missing or damaged file gets the same clear ``ModelConfigError`` everywhere.
"""

import os
from pathlib import Path
from typing import Any

from zhllama.core.files import read_json_object
from zhllama.errors import ModelConfigError

CONFIG_FILENAME = "config.json"


def config_path(source: str | os.PathLike) -> Path:
    """``source/config.json`` for a folder, ``source`` itself for a file."""
    path = Path(source).expanduser()
    return path / CONFIG_FILENAME if path.is_dir() else path


def read_model_config(source: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` dict of a model folder, or of the file ``source`` itself.

    Raises ``ModelConfigError`` when there is no such file or it is not a JSON object.
    """
    given = Path(source).expanduser()
    if not given.exists():
        raise ModelConfigError(
            f"{str(source)!r} does not exist: pass a local model folder holding config.json (zhllama never "
            "downloads a model), or the config.json file itself"
        )
    if given.is_dir() and not (given / CONFIG_FILENAME).is_file():
        raise ModelConfigError(f"{given} has no config.json: pass a Hugging Face model folder")
    path = config_path(given)
    return read_json_object(
        path, ModelConfigError, "restore the checkpoint's config.json (a Hugging Face model folder has one)"
    )
