"""Where zhllama finds things on disk: the shared assets and the default model.

Nothing is ever downloaded: a model is a local folder given by ``--model``, ``ZHLLAMA_MODEL``, or
the tiny test model in the shared assets (``ZHLLAMA_ASSETS``, default ``../shared/assets`` next
to the repository).
"""

import os
from pathlib import Path

TINY_MODEL = Path("models") / "tiny-zh-llama"


def assets_dir() -> Path | None:
    """The shared assets folder, or None when it is not found."""
    if "ZHLLAMA_ASSETS" in os.environ:
        candidate = Path(os.environ["ZHLLAMA_ASSETS"]).expanduser()
        return candidate.resolve() if candidate.is_dir() else None
    repo_root = Path(__file__).resolve().parents[2]
    for root in (Path.cwd(), repo_root):
        candidate = root.parent / "shared" / "assets"
        if candidate.is_dir():
            return candidate.resolve()
    return None


def default_model_dir() -> Path | None:
    """``ZHLLAMA_MODEL`` if set, else the tiny shared model if the assets are found, else None."""
    if os.environ.get("ZHLLAMA_MODEL"):
        return Path(os.environ["ZHLLAMA_MODEL"]).expanduser()
    assets = assets_dir()
    if assets is not None and (assets / TINY_MODEL / "config.json").is_file():
        return assets / TINY_MODEL
    return None
