"""Chinese-aware splitting into overlapping chunks measured in the model's own tokens.

Why not upstream's ``RecursiveCharacterTextSplitter(600, 100)``: it counts characters (a 600-char
Chinese chunk is ~370 Chinese-LLaMA-2 tokens but ~800 Llama-2 tokens, so budgets cannot be
planned), and its separators are ``\\n\\n``, ``\\n``, space and "anything", so in Chinese prose,
which has no spaces, it cuts mid-sentence. Here:

1. the text is cut into sentences: after 。！？；… ! ? ; (and a following closing quote or bracket
   such as ” 」 』 ）), after an English full stop followed by a space, and at line breaks;
2. a sentence longer than the budget is cut at clause marks (，、：,:) and, failing that, into
   windows of characters that fit;
3. sentences are packed greedily into chunks of at most ``chunk_tokens`` tokens, and each chunk
   after the first starts with the last whole sentences of the previous one, up to
   ``overlap_tokens`` (a question whose answer straddles a boundary finds one chunk holding both).

Token counts come from ``count_tokens`` (``token_counter(path)`` gives the family's exact
SentencePiece tokenizer; a counter with a ``many(texts)`` method is asked for sentences a batch at
a time). ``iter_chunks`` streams: it holds one chunk's sentences, not the document's, so a large
file splits in bounded memory; a text that fits one chunk is measured once, not per sentence.
``Chunk.start``/``end`` are character offsets into the original text and
``text == original[start:end]``. ``split_upstream`` is upstream's splitter (through
langchain-text-splitters), kept for the baseline in benchmarks/retrieval.py.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from zhllama.errors import DocQAError

DEFAULT_CHUNK_TOKENS = 384
DEFAULT_OVERLAP_TOKENS = 48

_SENTENCE = re.compile(r"[^\n]*?(?:[。！？；!?;…]+[”’」』）)\]】》\"']*|\.(?=\s)|(?=\n)|$)", re.S)
_CLAUSE = re.compile(r"[^，、：,:]*[，、：,:]?")

TokenCounter = Callable[[str], int]
_BATCH = 512


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: its text, its character span in the document, its token count."""

    text: str
    start: int
    end: int
    tokens: int


@dataclass(frozen=True)
class SplitSettings:
    """What decides how a document is cut; its ``key`` is part of every chunk id."""

    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
    tokenizer_id: str = "chars"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 8:
            raise DocQAError(f"chunk size must be at least 8 tokens, got {self.chunk_tokens}")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise DocQAError(
                f"overlap must be >= 0 and smaller than the chunk size ({self.chunk_tokens}), "
                f"got {self.overlap_tokens}"
            )

    @property
    def key(self) -> str:
        size = f"size={self.chunk_tokens};overlap={self.overlap_tokens}"
        return f"tok={self.tokenizer_id};{size};split=sentences-2"


def token_counter(tokenizer_path: str | os.PathLike) -> tuple[TokenCounter, str]:
    """``(count, tokenizer_id)`` for the SentencePiece model at ``tokenizer_path`` (folder or file).

    Counting uses ``encode_text`` (plain text, no BOS, no control tokens) on the raw
    SentencePiece processor, which equals the exact tokenizer ``load_tokenizer`` returns and is
    the fastest way to get it. ``tokenizer_id`` is a digest of the model file.
    """
    return _counter(str(Path(tokenizer_path).expanduser().resolve()))


@cache
def _counter(path: str) -> tuple[TokenCounter, str]:
    from zhllama.core.tokenizer import encode_text
    from zhllama.core.tokenizer.model_file import load_processor, resolve_model_file

    model_file = resolve_model_file(path)
    processor = load_processor(model_file)
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:16]

    def count(text: str) -> int:
        return len(encode_text(processor, text))

    def many(texts: list[str]) -> list[int]:
        # one call a text: sentencepiece's batch call costs twice as much (a thread pool a call);
        # and it never emits control ids from text
        return [len(processor.encode(text)) for text in texts]

    count.many = many  # type: ignore[attr-defined]
    count.path = path  # type: ignore[attr-defined] (a worker process rebuilds the counter from it)
    return count, digest


def _spans(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for match in pattern.finditer(text, start, end):
        a, b = match.span()
        if b > a and text[a:b].strip():
            spans.append((a, b))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace-only pieces dropped)."""
    return _spans(_SENTENCE, text, 0, len(text))


def _fit(
    text: str, span: tuple[int, int], budget: int, count: TokenCounter, tokens: int | None = None
) -> list[tuple[int, int, int]]:
    """Cut one over-long span into pieces of at most ``budget`` tokens: clauses first, then windows."""
    a, b = span
    tokens = count(text[a:b]) if tokens is None else tokens
    if tokens <= budget:
        return [(a, b, tokens)]
    clauses = _spans(_CLAUSE, text, a, b)
    if len(clauses) > 1:
        return [piece for clause in clauses for piece in _fit(text, clause, budget, count)]
    width = max(1, (b - a) * budget // tokens)
    pieces = []
    while a < b:
        stop = min(b, a + width)
        while stop - a > 1 and count(text[a:stop]) > budget:
            stop = a + max(1, (stop - a) * 9 // 10)
        pieces.append((a, stop, count(text[a:stop])))
        a = stop
    return pieces


def _units(text: str, count: TokenCounter, budget: int) -> Iterator[tuple[int, int, int]]:
    """``(start, end, tokens)`` of each sentence (or piece of an over-long one), counted in batches."""
    many = getattr(count, "many", None) or (lambda texts: [count(t) for t in texts])
    batch: list[tuple[int, int]] = []

    def measured() -> Iterator[tuple[int, int, int]]:
        for span, tokens in zip(batch, many([text[a:b] for a, b in batch]), strict=True):
            yield from _fit(text, span, budget, count, tokens)
        batch.clear()

    longest = 8 * budget  # characters: a longer "sentence" (no punctuation) is measured in windows
    for match in _SENTENCE.finditer(text):
        a, b = match.span()
        if b > a and text[a:b].strip():
            batch += [(start, min(b, start + longest)) for start in range(a, b, longest)]
            if len(batch) >= _BATCH:
                yield from measured()
    yield from measured()


def iter_chunks(
    text: str,
    count_tokens: TokenCounter,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> Iterator[Chunk]:
    """The chunks of ``text`` in order: whole sentences, each chunk at most ``chunk_tokens`` tokens,
    each after the first starting with the previous one's last sentences up to ``overlap_tokens``."""
    SplitSettings(chunk_tokens, overlap_tokens)  # validates
    if not text.strip():
        return
    # a text of more than twice as many characters as the budget seldom fits (Chinese: ~0.6 token/char)
    whole = count_tokens(text) if len(text) <= 2 * chunk_tokens else chunk_tokens + 1
    if whole <= chunk_tokens and sentence_spans(text):  # the usual paragraph: one chunk, one count
        spans = sentence_spans(text)
        start, end = spans[0][0], spans[-1][1]
        yield Chunk(
            text[start:end],
            start,
            end,
            whole if (start, end) == (0, len(text)) else count_tokens(text[start:end]),
        )
        return
    window: list[tuple[int, int, int]] = []  # the sentences of the chunk being filled
    total = 0
    for unit in _units(text, count_tokens, chunk_tokens):
        if window and total + unit[2] > chunk_tokens:
            yield Chunk(text[window[0][0] : window[-1][1]], window[0][0], window[-1][1], total)
            keep, overlap = len(window), 0  # repeat the last whole sentences within the overlap budget
            while keep - 1 > 0 and overlap + window[keep - 1][2] <= overlap_tokens:
                keep -= 1
                overlap += window[keep][2]
            window, total = window[keep:], overlap
            if total + unit[2] > chunk_tokens:  # the overlap and the next sentence do not fit together
                window, total = [], 0
        window.append(unit)
        total += unit[2]
    if window:
        yield Chunk(text[window[0][0] : window[-1][1]], window[0][0], window[-1][1], total)


def split_text(
    text: str,
    count_tokens: TokenCounter,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Chunk]:
    """``iter_chunks`` as a list."""
    return list(iter_chunks(text, count_tokens, chunk_tokens, overlap_tokens))


def split_upstream(text: str, chunk_size: int = 600, chunk_overlap: int = 100) -> list[Chunk]:
    """Upstream's splitter: ``RecursiveCharacterTextSplitter(600, 100)`` in characters (the baseline)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
    )
    chunks = []
    for doc in splitter.create_documents([text]):
        start = doc.metadata["start_index"]
        chunks.append(Chunk(doc.page_content, start, start + len(doc.page_content), len(doc.page_content)))
    return chunks
