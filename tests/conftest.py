"""Shared fixtures: the assets folder (``ZHLLAMA_ASSETS``, default ``../shared/assets``)."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def assets_root() -> Path:
    return Path(os.environ.get("ZHLLAMA_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


@pytest.fixture(scope="session")
def assets() -> Path:
    """The read-only test assets; a missing folder fails the test with what to set."""
    root = assets_root()
    if not (root / "tokenizers" / "chinese-llama-2" / "tokenizer.model").is_file():
        pytest.fail(
            f"test assets not found at {root}: set ZHLLAMA_ASSETS to the shared assets folder "
            "(the one holding tokenizers/, models/, corpus/ and qa/)"
        )
    return root


@pytest.fixture(scope="session")
def tokenizer_dir(assets: Path) -> Path:
    return assets / "tokenizers" / "chinese-llama-2"


@pytest.fixture(scope="session")
def tiny_model_dir(assets: Path) -> Path:
    return assets / "models" / "tiny-zh-llama"


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path):
    from zhllama.core.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_dir)
