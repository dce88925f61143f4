"""Stuff, refine and map-reduce in plain Python: the orchestration that docqa and LangChain share.

Every function here takes ``ask(prompt, values) -> str`` (one model call: ``prompt`` from
``zhllama.core.prompts`` filled with ``values``, the caller wraps it in the Alpaca-2 template) and
never sees a model, a template or a framework, so the LCEL runnables in
``zhllama.adapters.langchain.chains`` and the ``qa ask`` / ``summarize`` commands run the same steps
with the same upstream prompts. ``ask_many`` (optional) answers several values of one prompt at
once (LangChain's ``batch``); without it they are asked one by one.

- ``stuff``: all texts joined by ``separator`` into one prompt;
- ``refine``: the first text with the initial prompt, then one refine step per further text;
- ``map_reduce``: the base prompt on each text, then on the joined results. Upstream has no
  map-reduce QA prompt: QA asks ``STUFF_QA`` at both steps; summaries use ``SUMMARY`` at both, as
  LangChain's ``load_summarize_chain`` does. ``collapse`` (summaries) regroups partial results
  that are too long to reduce in one call; each group is summarised again until one group is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from zhllama.core import prompts
from zhllama.core.prompts import Prompt
from zhllama.errors import DocQAError

Ask = Callable[[Prompt, Mapping[str, str]], str]
AskMany = Callable[[Prompt, Sequence[Mapping[str, str]]], list[str]]
Collapse = Callable[[list[str]], list[list[str]]]

KINDS = ("stuff", "refine", "map_reduce")
DOCUMENT_SEPARATOR = "\n\n"


class ChainError(DocQAError, ValueError):
    """A chain cannot run as asked; a ``ValueError`` too, as LangChain users expect of bad arguments."""


def check_kind(kind: str) -> None:
    """Raise ``ChainError`` naming the choices unless ``kind`` is one of ``KINDS``."""
    if kind not in KINDS:
        raise ChainError(f"unknown chain kind {kind!r}: use one of {', '.join(KINDS)}")


def _many(ask: Ask, ask_many: AskMany | None) -> AskMany:
    return ask_many or (lambda prompt, values: [ask(prompt, v) for v in values])


def answer(
    ask: Ask,
    question: str,
    texts: Sequence[str],
    kind: str = "stuff",
    *,
    ask_many: AskMany | None = None,
    separator: str = DOCUMENT_SEPARATOR,
    stuff_prompt: Prompt = prompts.STUFF_QA,
) -> str:
    """The answer to ``question`` from ``texts`` by ``kind``; no texts means one stuff call, empty context."""
    check_kind(kind)
    texts = list(texts)
    if kind == "stuff" or not texts:
        return ask(stuff_prompt, {"context": separator.join(texts), "question": question})
    if kind == "refine":
        result = ask(prompts.REFINE_QA_INITIAL, {"context_str": texts[0], "question": question})
        for text in texts[1:]:
            result = ask(
                prompts.REFINE_QA_STEP, {"question": question, "existing_answer": result, "context_str": text}
            )
        return result
    partial = _many(ask, ask_many)(stuff_prompt, [{"context": text, "question": question} for text in texts])
    return ask(stuff_prompt, {"context": separator.join(partial), "question": question})


def summarize(
    ask: Ask,
    texts: Sequence[str],
    kind: str = "stuff",
    *,
    ask_many: AskMany | None = None,
    separator: str = DOCUMENT_SEPARATOR,
    collapse: Collapse | None = None,
) -> str:
    """A summary of ``texts`` by ``kind`` (one text, or ``stuff``: a single call on all of them joined).

    ``collapse(partials)`` returns the partial summaries grouped so that each group fits one call;
    it must make progress (fewer groups than partials) or a ``ChainError`` is raised.
    """
    check_kind(kind)
    texts = list(texts)
    if kind == "stuff" or len(texts) <= 1:
        return ask(prompts.SUMMARY, {"text": separator.join(texts)})
    if kind == "refine":
        result = ask(prompts.SUMMARY, {"text": texts[0]})
        for text in texts[1:]:
            result = ask(prompts.SUMMARY_REFINE_STEP, {"existing_answer": result, "text": text})
        return result
    many = _many(ask, ask_many)
    partial = many(prompts.SUMMARY, [{"text": text} for text in texts])
    while collapse is not None:
        groups = collapse(partial)
        if len(groups) <= 1:
            break
        if len(groups) >= len(partial):
            raise ChainError(
                "the partial summaries are too long to combine two at a time: allow fewer tokens per "
                "summary or use a model with a longer context"
            )
        partial = many(prompts.SUMMARY, [{"text": separator.join(group)} for group in groups])
    return ask(prompts.SUMMARY, {"text": separator.join(partial)})
