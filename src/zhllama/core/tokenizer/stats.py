"""How compactly a tokenizer encodes a text: chars per token, tokens per 1,000 chars, byte fallback.

Counts come from SentencePiece directly: the exact tokenizers give the same ids by construction
(see the parity tests), and SentencePiece's batch encoder is the fastest way over megabytes.
Each line is encoded as plain text (no BOS); characters are counted without the newlines.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zhllama.core.tokenizer.model_file import load_processor, resolve_model_file
from zhllama.errors import TokenizerError

_BATCH_LINES = 4096


@dataclass(frozen=True)
class TokenizerStats:
    """Token counts of one tokenizer over some text."""

    tokenizer: str
    vocab_size: int
    chars: int
    tokens: int
    byte_fallback_tokens: int

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.tokens else 0.0

    @property
    def tokens_per_1000_chars(self) -> float:
        return 1000 * self.tokens / self.chars if self.chars else 0.0

    @property
    def byte_fallback_share(self) -> float:
        return self.byte_fallback_tokens / self.tokens if self.tokens else 0.0

    def to_dict(self) -> dict:
        return {
            **vars(self),
            "chars_per_token": self.chars_per_token,
            "tokens_per_1000_chars": self.tokens_per_1000_chars,
            "byte_fallback_share": self.byte_fallback_share,
        }


def _lines(files: Iterable[str | os.PathLike]) -> Iterable[str]:
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise TokenizerError(f"text file {path} does not exist")
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    yield line


def tokenizer_stats(tokenizer: str | os.PathLike, files: Iterable[str | os.PathLike]) -> TokenizerStats:
    """Encode every non-empty line of ``files`` with ``tokenizer`` (a folder or .model file) and count."""
    model_file = resolve_model_file(tokenizer)
    sp = load_processor(model_file)
    is_byte = [sp.is_byte(i) for i in range(sp.get_piece_size())]
    chars = tokens = byte_tokens = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal tokens, byte_tokens
        for ids in sp.encode(batch):
            tokens += len(ids)
            byte_tokens += sum(1 for i in ids if is_byte[i])
        batch.clear()

    for line in _lines(files):
        chars += len(line)
        batch.append(line)
        if len(batch) >= _BATCH_LINES:
            flush()
    if batch:
        flush()
    return TokenizerStats(
        tokenizer=str(tokenizer),
        vocab_size=sp.get_piece_size(),
        chars=chars,
        tokens=tokens,
        byte_fallback_tokens=byte_tokens,
    )
