"""Fitting document text into a prompt: ``pack`` (one prompt) and ``group`` (one prompt per step).

The limit is in the model's tokens and the measure is exact: ``measure(texts)`` is the length of
the real prompt (template, system prompt, question, the texts joined) as the backend encodes it.
Packing first estimates with per-text token counts (cheap), then checks the real prompt and drops
or shortens the last text until it fits, because SentencePiece may merge across a join.

What is never cut is everything outside the texts (the question above all): when the prompt
without any text is already over the limit, ``PromptTooLong`` says so. A text is cut only when it
is the first and alone does not fit, so a short-context model still sees the best passage's start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zhllama.docqa.chains import DOCUMENT_SEPARATOR
from zhllama.errors import DocQAError

Measure = Callable[[list[str]], int]
TokenCounter = Callable[[str], int]


class PromptTooLong(DocQAError):
    """The prompt leaves no room for any document text; the message says by how much."""


@dataclass(frozen=True)
class Packed:
    """The texts that fit, in the given order (``cut``: the only one was shortened), and the prompt size."""

    texts: list[str]
    prompt_tokens: int
    cut: bool = False


def cut_to_tokens(text: str, limit: int, count_tokens: TokenCounter) -> str:
    """The longest prefix of ``text`` (whole characters) of at most ``limit`` tokens."""
    if limit <= 0:
        return ""
    if count_tokens(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def pack(
    texts: Sequence[str],
    limit: int,
    measure: Measure,
    count_tokens: TokenCounter,
    separator: str = DOCUMENT_SEPARATOR,
) -> Packed:
    """The longest prefix of ``texts`` whose prompt ``measure`` is at most ``limit`` tokens.

    At least one text goes in when ``texts`` is not empty (cut to fit if need be); raises
    ``PromptTooLong`` when the prompt without any text is over ``limit``.
    """
    base = measure([])
    if base > limit:
        raise PromptTooLong(
            f"the prompt without any document text already takes {base} tokens, more than the {limit} "
            "this model leaves for a prompt after the answer: ask a shorter question (a question is never "
            "cut), or use a model with a longer context (`context`, or a 16K/64K model)"
        )
    separator_tokens = count_tokens(separator)
    chosen: list[str] = []
    total = base
    for text in texts:
        cost = count_tokens(text) + (separator_tokens if chosen else 0)
        if total + cost > limit:
            break
        chosen.append(text)
        total += cost
    cut = False
    if not chosen and texts:
        chosen, cut = [cut_to_tokens(texts[0], limit - base, count_tokens)], True
    size = measure(chosen)
    while chosen and size > limit:
        if len(chosen) > 1:
            chosen.pop()
        else:
            shorter = cut_to_tokens(chosen[0], count_tokens(chosen[0]) - (size - limit), count_tokens)
            chosen, cut = [shorter if shorter != chosen[0] else chosen[0][:-1]], True
        size = measure(chosen)
    return Packed(chosen, size, cut)


def group(
    texts: Sequence[str],
    limit: int,
    measure: Callable[[int, list[str]], int],
    count_tokens: TokenCounter,
    separator: str = DOCUMENT_SEPARATOR,
) -> list[Packed]:
    """``texts`` in consecutive groups, each packed into one prompt; ``measure(step, texts)`` per step.

    Every text lands in exactly one group (a text too long for any prompt is cut in its own group).
    """
    groups: list[Packed] = []
    rest = list(texts)
    while rest:
        step = len(groups)
        packed = pack(rest, limit, lambda chosen, step=step: measure(step, chosen), count_tokens, separator)
        groups.append(packed)
        rest = rest[len(packed.texts) :]
    return groups
