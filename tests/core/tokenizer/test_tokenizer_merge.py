"""merge: extend a BPE SentencePiece model with another model's pieces (first-generation recipe)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from zhllama.cli.tokenizer import group
from zhllama.core.tokenizer import load_tokenizer
from zhllama.core.tokenizer.merge import merge_models
from zhllama.errors import TokenizerError


@pytest.fixture(scope="module")
def inputs(assets: Path) -> tuple[Path, Path]:
    return (
        assets / "tokenizers" / "llama-2" / "tokenizer.model",
        assets / "tokenizers" / "chinese-sp" / "chinese_sp.model",
    )


def test_llama2_plus_chinese_sp_gives_49953_pieces(inputs, tmp_path):
    import sentencepiece as spm

    base, extra = inputs
    result = merge_models(base, extra, tmp_path / "merged.model")
    assert (result.base_pieces, result.added, result.total) == (32000, 17953, 49953)

    merged = spm.SentencePieceProcessor(model_file=result.output)
    llama = spm.SentencePieceProcessor(model_file=str(base))
    assert merged.get_piece_size() == 49953
    assert [merged.id_to_piece(i) for i in range(32000)] == [llama.id_to_piece(i) for i in range(32000)]
    assert all(merged.get_score(i) == 0 for i in range(32000, 49953))
    assert len(merged.encode("人工智能技术正在改变世界")) < len(llama.encode("人工智能技术正在改变世界"))


def test_the_merged_model_loads_in_transformers_from_a_folder(inputs, tmp_path):
    import sentencepiece as spm

    merge_models(*inputs, tmp_path)  # a folder: written as tokenizer.model
    tok = load_tokenizer(tmp_path)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tokenizer.model"))
    assert len(tok) == 49953
    assert tok("今天天气很好")["input_ids"] == [1, *sp.encode("今天天气很好")]


def test_a_unigram_base_is_refused(inputs, tmp_path):
    base, extra = inputs
    with pytest.raises(TokenizerError, match="UNIGRAM, expected BPE"):
        merge_models(extra, base, tmp_path / "out.model")
    assert not (tmp_path / "out.model").exists()


def test_a_file_that_is_not_sentencepiece_is_refused(inputs, tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_text("hello")
    with pytest.raises(TokenizerError, match="not a SentencePiece model"):
        merge_models(inputs[0], bad, tmp_path / "out.model")


def test_cli_merge(inputs, tmp_path):
    result = CliRunner().invoke(group, ["merge", str(inputs[0]), str(inputs[1]), str(tmp_path / "m.model")])
    assert result.exit_code == 0 and "49953 pieces" in result.output
    failed = CliRunner().invoke(group, ["merge", str(inputs[1]), str(inputs[0]), str(tmp_path / "n.model")])
    assert failed.exit_code == 1 and "expected BPE" in failed.output
