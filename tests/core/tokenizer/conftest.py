"""Tokenizer fixtures: each tokenizer loads once per module that uses it; the >10,000-line sample."""

import json
import random
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
def exact_decoding():
    """zhllama's exact decoding installed on transformers' SentencePieceBackend for one test."""
    from zhllama.patching import install_exact_decoding, uninstall_exact_decoding

    install_exact_decoding()
    yield
    uninstall_exact_decoding()


CORPUS_LINES_PER_FILE = 700
MAX_CHARS = 400  # long paragraphs are cut: segmentation is checked, not throughput


def _corpus_lines(assets: Path) -> list[str]:
    lines = []
    for path in sorted((assets / "corpus").glob("*.txt")):
        if path.name == "SOURCE.txt":
            continue
        text = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        step = max(1, len(text) // CORPUS_LINES_PER_FILE)
        lines += [line[:MAX_CHARS] for line in text[::step][:CORPUS_LINES_PER_FILE]]
    return lines


def _qa_lines(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    lines = []
    for article in data:
        for paragraph in article["paragraphs"]:
            lines.append(paragraph["context"][:MAX_CHARS])
            lines += [qa["question"] for qa in paragraph["qas"]]
    return lines


def _generated_lines(n: int = 1500) -> list[str]:
    rng = random.Random(20240601)
    words = ["the", "model", "tokenizer", "Hello", "World", "GPU", "can't", "don't", "x86_64", "3.14159"]
    zh = ["不可能", "是", "天下", "午", "下午", "我们", "人工智能", "中文", "模型", "你好", "可能是"]
    code = [
        "def f(x):",
        "return x + 1",
        "{'a': [1, 2]}",
        "for i in range(10):",
        "x = y // 2",
        "#include <stdio.h>",
    ]
    spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", " \t ", "\u3000"]
    punct = list("，。！？；：“”‘’（）【】《》、…—～·")
    emoji = ["😀", "🎉", "👍🏽", "🇨🇳", "👨‍👩‍👧", "❤️", "🤖"]
    controls = ["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "</s>", "<s>", "<unk>", "<pad>"]
    pools = [words, zh, code, spaces, punct, emoji, controls]
    lines = []
    for _ in range(n):
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 12))]
        sep = rng.choice(["", " ", "  "])
        line = sep.join(parts)
        if rng.random() < 0.2:
            line = rng.choice(spaces) + line + rng.choice(spaces)
        lines.append(line)
    lines += [" ", "  ", "\n", "\t\t", " leading", "trailing ", "", "▁literal▁underline"]
    return lines


@pytest.fixture(scope="module")
def lines(assets: Path) -> list[str]:
    qa = assets / "qa"
    return (
        _corpus_lines(assets)
        + _qa_lines(qa / "cmrc2018" / "cmrc2018_trial.squad.json")
        + _qa_lines(qa / "drcd" / "DRCD_test.json")
        + _generated_lines()
    )


@pytest.fixture(scope="module")
def chinese_lines(assets: Path) -> list[str]:
    return [q for q in _qa_lines(assets / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json")]
