"""Exact decoding for transformers' ``SentencePieceBackend``, the class ``tokenizer check --fix`` selects.

Why a patch: transformers (up to 5.24, the newest release) decodes a ``SentencePieceBackend`` by
joining the pieces' own text, ``"".join(tokens).replace("▁", " ").strip()``, never asking
SentencePiece. Byte-fallback pieces therefore come out as text (``．\\n`` decodes to
``<0xEF><0xBC><0x8E><0x0A>``, and so do rare characters and emoji) and leading or trailing
whitespace is lost (huggingface/transformers#47473; its fixes are unmerged). No key of
``tokenizer_config.json`` reaches that method, and no ``tokenizer.json`` can reproduce
SentencePiece's segmentation of this vocabulary (docs/tokenizer.md), so a model folder alone cannot
give plain ``AutoTokenizer`` both exact ids and exact text: the decoding has to come as code, and
without ``trust_remote_code`` that means from zhllama, in the processes where it runs.

``install_exact_decoding()`` replaces ``SentencePieceBackend.convert_tokens_to_string`` with
SentencePiece's own join (``join_pieces``) for tokenizers whose model has byte pieces; every other
tokenizer keeps transformers' method. Idempotent; ``uninstall_exact_decoding()`` restores
transformers' method. The vLLM plugin installs it in every vLLM process; a script calls it once
before decoding. (webui's extension needs none: it gives webui zhllama's own exact tokenizer.)
"""

from typing import Any

_ORIGINAL = "__zhllama_original__"
_BYTE_PIECE = "<0x00>"


def _has_byte_pieces(sp_model: Any) -> bool:
    return bool(sp_model.IsByte(sp_model.PieceToId(_BYTE_PIECE)))


def _backend() -> type:
    from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

    return SentencePieceBackend


def exact_decoding_installed() -> bool:
    """True when ``SentencePieceBackend`` decodes byte pieces as SentencePiece does."""
    return hasattr(_backend().convert_tokens_to_string, _ORIGINAL)


def install_exact_decoding() -> bool:
    """Make every ``SentencePieceBackend`` with byte pieces decode exactly; True if this call did it."""
    backend = _backend()
    if exact_decoding_installed():
        return False
    original = backend.convert_tokens_to_string

    def convert_tokens_to_string(self: Any, tokens: list[str]) -> str:
        if not _has_byte_pieces(self.sp_model):
            return original(self, tokens)
        from zhllama.core.tokenizer.sentencepiece_tokenizer import join_pieces

        return join_pieces(self.sp_model, tokens, set(self.all_special_tokens))

    setattr(convert_tokens_to_string, _ORIGINAL, original)
    backend.convert_tokens_to_string = convert_tokens_to_string
    return True


def uninstall_exact_decoding() -> bool:
    """Put transformers' own method back; True if this call did it."""
    backend = _backend()
    if not exact_decoding_installed():
        return False
    backend.convert_tokens_to_string = getattr(backend.convert_tokens_to_string, _ORIGINAL)
    return True
