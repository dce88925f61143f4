"""install_exact_decoding: transformers' SentencePieceBackend decodes byte pieces as SentencePiece does."""

import pytest
from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

from zhllama.patching import exact_decoding_installed, install_exact_decoding, uninstall_exact_decoding


@pytest.fixture
def restore():
    yield
    uninstall_exact_decoding()


def test_install_is_idempotent_and_uninstall_restores_transformers_method(restore):
    original = SentencePieceBackend.convert_tokens_to_string
    assert install_exact_decoding() and not install_exact_decoding()
    assert exact_decoding_installed() and SentencePieceBackend.convert_tokens_to_string is not original
    assert uninstall_exact_decoding() and not uninstall_exact_decoding()
    assert SentencePieceBackend.convert_tokens_to_string is original


def test_a_model_without_byte_pieces_keeps_transformers_decoding(assets, restore):
    model = assets / "tokenizers" / "chinese-sp" / "chinese_sp.model"
    tokenizer = SentencePieceBackend(vocab_file=str(model))
    tokens = tokenizer.tokenize("  中文 分词  ")
    before = tokenizer.convert_tokens_to_string(tokens)
    install_exact_decoding()
    assert tokenizer.convert_tokens_to_string(tokens) == before


def test_byte_pieces_become_text_again_and_leading_spaces_stay(tokenizer_dir, restore):
    tokenizer = SentencePieceBackend(vocab_file=str(tokenizer_dir / "tokenizer.model"))
    tokens = tokenizer.sp_model.encode("  前面两个空格．\n🙂", out_type=str)
    assert "<0x0A>" in tokenizer.convert_tokens_to_string(tokens)
    install_exact_decoding()
    assert tokenizer.convert_tokens_to_string(tokens) == "  前面两个空格．\n🙂"
