"""The extended Chinese tokenizer: load it, encode safely, check parity, merge vocabularies."""

from zhllama.core.tokenizer.loading import load_tokenizer
from zhllama.core.tokenizer.safe_encoding import encode_text

__all__ = ["encode_text", "load_tokenizer"]
