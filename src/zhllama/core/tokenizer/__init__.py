"""The extended Chinese tokenizer: load it, encode safely, check parity, merge vocabularies."""

from zhllama.core.tokenizer.loading import load_tokenizer

__all__ = ["load_tokenizer"]
