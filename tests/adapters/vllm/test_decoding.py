"""vLLM with zhllama installed decodes a fixed folder's byte-fallback pieces as SentencePiece does.

``zhllama tokenizer check --fix`` makes vLLM load transformers' ``SentencePieceBackend``, whose own
decoding shows byte pieces as ``<0xNN>`` text; the entry point installs zhllama's exact decoding.
"""

import sentencepiece as spm

from zhllama.adapters.vllm import plugin
from zhllama.patching import exact_decoding_installed, uninstall_exact_decoding

TEXT = "句号．\n崁頂🙂 and  spaces"


def detokenized(tokenizer, ids: list[int]) -> str:
    """The text vLLM's incremental detokenizer builds, one generated id at a time."""
    from vllm.tokenizers.detokenizer_utils import detokenize_incrementally

    tokens, text, prefix, read = None, "", 0, 0
    for end in range(1, len(ids) + 1):
        new_tokens, new_text, prefix, read = detokenize_incrementally(
            tokenizer, ids[:end], tokens, prefix, read
        )
        tokens = new_tokens if tokens is None else tokens + new_tokens
        text += new_text
    return text


def test_the_entry_point_makes_vllms_tokenizer_and_detokenizer_exact(served_model_dir):
    from vllm.tokenizers.registry import get_tokenizer

    sp = spm.SentencePieceProcessor(model_file=str(served_model_dir / "tokenizer.model"))
    ids = sp.encode(TEXT)
    tokenizer = get_tokenizer(str(served_model_dir))
    uninstall_exact_decoding()
    assert "<0xEF><0xBC><0x8E>" in tokenizer.decode(ids)  # transformers' own SentencePieceBackend
    try:
        plugin.register()
        assert exact_decoding_installed()
        assert tokenizer.decode(ids) == sp.decode(ids) == TEXT
        assert detokenized(tokenizer, ids) == TEXT
    finally:
        plugin.uninstall()
        uninstall_exact_decoding()
