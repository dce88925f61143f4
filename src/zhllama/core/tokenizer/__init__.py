"""The extended Chinese tokenizer: load it, encode safely, check parity, merge vocabularies."""

from zhllama.core.tokenizer.safe_encoding import encode_text
from zhllama.core.tokenizer.tokenizer_loader import load_tokenizer

__all__ = ["encode_text", "load_tokenizer"]
