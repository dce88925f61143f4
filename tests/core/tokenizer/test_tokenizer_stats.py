"""stats: chars per token, tokens per 1,000 chars, byte-fallback share."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhllama.cli.tokenizer import group
from zhllama.core.tokenizer.stats import tokenizer_stats
from zhllama.errors import TokenizerError

PARAGRAPH = "人工智能技术正在改变我们的工作方式和生活习惯。" * 4


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text(f"{PARAGRAPH}\n\n𠀀𠀁\n", encoding="utf-8")
    return path


def test_counts_match_sentencepiece(text_file, tokenizer_dir, sp):
    stats = tokenizer_stats(tokenizer_dir, [text_file])
    ids = sp.encode([PARAGRAPH, "𠀀𠀁"])
    assert stats.chars == len(PARAGRAPH) + 2
    assert stats.tokens == sum(map(len, ids))
    assert stats.byte_fallback_tokens == 8  # two 4-byte characters that are not pieces
    assert stats.chars_per_token == pytest.approx(stats.chars / stats.tokens)
    assert stats.tokens_per_1000_chars == pytest.approx(1000 * stats.tokens / stats.chars)
    assert stats.byte_fallback_share == pytest.approx(8 / stats.tokens)


def test_the_extended_vocabulary_needs_fewer_tokens_than_llama2(text_file, tokenizer_dir, assets):
    zh = tokenizer_stats(tokenizer_dir, [text_file])
    llama = tokenizer_stats(assets / "tokenizers" / "llama-2" / "tokenizer.model", [text_file])
    assert llama.vocab_size == 32000 and zh.vocab_size == 55296
    assert zh.tokens < 0.7 * llama.tokens
    assert llama.byte_fallback_share > zh.byte_fallback_share


def test_a_missing_text_file_is_an_error(tokenizer_dir, tmp_path):
    with pytest.raises(TokenizerError, match="does not exist"):
        tokenizer_stats(tokenizer_dir, [tmp_path / "nope.txt"])


def test_cli_compares_tokenizers(text_file, tokenizer_dir, assets):
    llama = assets / "tokenizers" / "llama-2" / "tokenizer.model"
    args = ["stats", str(text_file), "--tokenizer", str(llama), "--tokenizer", str(tokenizer_dir)]
    table = CliRunner().invoke(group, args)
    assert table.exit_code == 0 and "chars/token" in table.output and "byte fallback" in table.output
    rows = json.loads(CliRunner().invoke(group, [*args, "--json"]).output)
    assert [r["vocab_size"] for r in rows] == [32000, 55296]
