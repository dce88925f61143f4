"""Tokenizer fixtures: each tokenizer loads once per module that uses it."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def model_file(tokenizer_dir: Path) -> Path:
    return tokenizer_dir / "tokenizer.model"


@pytest.fixture(scope="module")
def sp(model_file: Path):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(model_file))


@pytest.fixture(scope="module")
def slow(tokenizer_dir: Path):
    from zhllama.core.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_dir)


@pytest.fixture(scope="module")
def fast(tokenizer_dir: Path):
    from zhllama.core.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_dir, fast=True)


@pytest.fixture
def tokenizer_copy(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A writable copy of the tiny model folder's tokenizer files (never inside the repo)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    return folder
