"""Summarising one document with upstream's summary prompts: ``summarize_file(path, runner)``.

The file is read by docqa's loader (so GBK, Big5, UTF-16, HTML, PDF and DOCX work as in ingest,
and an unreadable file is an error with the reason). ``chain="auto"`` is ``stuff`` when the whole
text fits one prompt (upstream's ``请为以下文字写一段摘要:\\n{text}`` in the Alpaca-2 template, plus
the answer, within the context window) and ``map_reduce`` otherwise; ``refine`` is upstream's
other choice. For the multi-call chains the text is split at sentence boundaries (``splitting``)
into pieces that each fit one prompt, measured in the backend's tokens; map-reduce summarises the
pieces, regroups the partial summaries into prompts that fit and summarises again until one
prompt holds them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from zhllama.core import prompts
from zhllama.docqa import chains
from zhllama.docqa.chains import DOCUMENT_SEPARATOR
from zhllama.docqa.documents import Document, UnreadableFileError, load_document
from zhllama.docqa.packing import group
from zhllama.docqa.runner import PromptRunner
from zhllama.docqa.splitting import split_text
from zhllama.errors import DocQAError

CHAINS = ("auto", "stuff", "map_reduce", "refine")
_SPLIT_MARGIN = 8  # tokens kept spare when splitting: pieces are re-measured inside the real prompt


@dataclass(frozen=True)
class Summary:
    """A summary, the chain used, how many pieces the text was cut into, and timings."""

    text: str
    chain: str
    pieces: int
    calls: int
    timings: dict[str, float | None]
    source: str | None = None
    encoding: str | None = None

    def as_dict(self) -> dict:
        return {
            "file": self.source,
            "encoding": self.encoding,
            "summary": self.text,
            "chain": self.chain,
            "pieces": self.pieces,
            "calls": self.calls,
            "timings": self.timings,
        }


def _summary_tokens(runner: PromptRunner, text: str) -> int:
    return runner.prompt_tokens(prompts.SUMMARY.fill(text=text))


def summarize_text(
    text: str,
    runner: PromptRunner,
    chain: str = "auto",
    on_chain: Callable[[str, int], None] | None = None,
) -> Summary:
    """Summarise ``text``; see the module docstring for how the chain is chosen.

    ``on_chain(kind, pieces)`` is told the chain and the number of pieces before the first call.
    """
    if chain not in CHAINS:
        raise DocQAError(f"unknown chain {chain!r}: use one of {', '.join(CHAINS)}")
    if not text.strip():
        raise DocQAError("nothing to summarise: the text is empty")
    started = time.perf_counter()
    calls_before = len(runner.calls)
    limit = runner.prompt_limit
    whole = _summary_tokens(runner, text)
    if chain == "stuff" and whole > limit:
        raise DocQAError(
            f"the document takes a {whole}-token prompt but this model leaves {limit} tokens for one: "
            "use `chain` map_reduce or refine, or a model with a longer context"
        )
    kind = chain if chain != "auto" else ("stuff" if whole <= limit else "map_reduce")

    def ask(prompt: prompts.Prompt, values: Mapping[str, str]) -> str:
        return runner.ask(prompt, values)

    if kind == "stuff":
        pieces = [text]
    else:

        def measure(step: int, chosen: list[str]) -> int:
            joined = DOCUMENT_SEPARATOR.join(chosen)
            if kind == "map_reduce" or step == 0:
                return _summary_tokens(runner, joined)
            refine = prompts.SUMMARY_REFINE_STEP.fill(existing_answer="", text=joined)
            return runner.prompt_tokens(refine) + runner.answer_tokens

        overhead = measure(1, [])
        piece_tokens = limit - overhead - _SPLIT_MARGIN
        if piece_tokens < 8:
            raise DocQAError(
                f"this model's {runner.window}-token context leaves {piece_tokens} tokens per piece after "
                f"the prompt and a {runner.answer_tokens}-token summary: use a model with a longer context"
            )
        sentences = [c.text for c in split_text(text, runner.count_tokens, piece_tokens, 0)]
        pieces = [
            DOCUMENT_SEPARATOR.join(p.texts) for p in group(sentences, limit, measure, runner.count_tokens)
        ]

    if on_chain is not None:
        on_chain(kind, len(pieces))

    def collapse(partials: list[str]) -> list[list[str]]:
        return [
            p.texts
            for p in group(
                partials,
                limit,
                lambda _, chosen: _summary_tokens(runner, DOCUMENT_SEPARATOR.join(chosen)),
                runner.count_tokens,
            )
        ]

    return Summary(
        text=chains.summarize(ask, pieces, kind, collapse=collapse),
        chain=kind,
        pieces=len(pieces),
        calls=len(runner.calls) - calls_before,
        timings={
            "first_token_s": runner.first_token_after(started),
            "total_s": time.perf_counter() - started,
        },
    )


def read_document(path: str | os.PathLike) -> Document:
    """``path`` read with docqa's loader; an unreadable file is a ``DocQAError`` naming it and why."""
    try:
        return load_document(path)
    except UnreadableFileError as exc:
        raise DocQAError(f"cannot summarize {path}: {exc}") from exc


def summarize_document(
    document: Document,
    runner: PromptRunner,
    chain: str = "auto",
    on_chain: Callable[[str, int], None] | None = None,
) -> Summary:
    """``summarize_text`` of a loaded document, the summary naming its file and encoding."""
    summary = summarize_text(document.text, runner, chain, on_chain)
    return replace(summary, source=str(document.path), encoding=document.encoding)


def summarize_file(
    path: str | os.PathLike,
    runner: PromptRunner,
    chain: str = "auto",
    on_chain: Callable[[str, int], None] | None = None,
) -> Summary:
    """Load ``path`` (``read_document``) and summarise it."""
    return summarize_document(read_document(path), runner, chain, on_chain)
