"""The answer step of document QA: retrieve, fit into the model's context, ask, cite.

``answer_question(question, retriever, runner)`` returns an ``Answer`` (text, the chain used, the
sources whose text reached the model, timings). The contract:

- ``k`` defaults to ``context_budget`` of the room the model leaves for documents (its window less
  the answer and the prompt without documents), so a 16K or 64K model retrieves and reads more
  chunks than a 4K one; a context too short for one whole chunk still gets the best one, cut;
- the prompt is upstream's stuff-QA prompt (``{context}\\n{question}``) in the Alpaca-2 template,
  measured in the backend's own tokens: prompt plus answer never exceed the context window, and
  the question is never cut (a question that leaves no room is an error saying so);
- ``chain="auto"`` uses ``stuff`` when every retrieved chunk fits in one prompt, else ``refine``
  (upstream's other QA chain) over groups of chunks that each fit one refine step, its reserve
  including room for the previous answer;
- ``history`` (earlier turns, see ``conversation``) goes before the question in every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from zhllama.core import prompts
from zhllama.docqa import chains
from zhllama.docqa.budget import context_budget
from zhllama.docqa.chains import DOCUMENT_SEPARATOR
from zhllama.docqa.packing import Packed, group, pack
from zhllama.docqa.retrieval import Hit, Retriever
from zhllama.docqa.runner import PromptRunner
from zhllama.errors import DocQAError

CHAINS = ("auto", "stuff", "refine")


@dataclass(frozen=True)
class Answer:
    """An answer with its sources (the retrieved chunks the model read, best first) and timings.

    ``timings``: ``retrieval_s``, ``first_token_s`` (question to first answer text), ``total_s``.
    ``cut`` says a chunk was shortened to fit; ``history_turns`` how many earlier turns were sent.
    """

    question: str
    text: str
    chain: str
    sources: list[Hit]
    retrieved: int
    calls: int
    timings: dict[str, float | None]
    cut: bool = False
    history_turns: int = 0
    prompt_tokens: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "chain": self.chain,
            "sources": [
                {
                    "file": hit.source,
                    "start": hit.start,
                    "end": hit.end,
                    "page": hit.page,
                    "chunk": hit.chunk,
                    "rank": hit.rank,
                    "score": hit.score,
                    "citation": hit.citation,
                }
                for hit in self.sources
            ],
            "retrieved": self.retrieved,
            "calls": self.calls,
            "cut": self.cut,
            "history_turns": self.history_turns,
            "prompt_tokens": self.prompt_tokens,
            "timings": self.timings,
        }


def _stuff_instruction(texts: list[str], question: str) -> str:
    return prompts.STUFF_QA.fill(context=DOCUMENT_SEPARATOR.join(texts), question=question)


def default_k(question: str, runner: PromptRunner, history: Sequence[Mapping[str, str]] = ()) -> int:
    """How many chunks to retrieve: ``context_budget`` of the room left for documents (at least 1)."""
    room = runner.prompt_limit - runner.prompt_tokens(_stuff_instruction([], question), history)
    try:
        return context_budget(runner.window, reserve_tokens=runner.window - room)[0]
    except DocQAError:  # less room than one whole chunk: read the best one, cut to fit
        return 1


def answer_question(
    question: str,
    retriever: Retriever,
    runner: PromptRunner,
    *,
    k: int | None = None,
    chain: str = "auto",
    history: Sequence[Mapping[str, str]] = (),
    on_chain: Callable[[str, int], None] | None = None,
) -> Answer:
    """Answer ``question`` from the chunks ``retriever`` finds; see the module docstring.

    ``on_chain(kind, prompts)`` is told the chain chosen and its number of document prompts
    before the first model call.
    """
    if chain not in CHAINS:
        raise DocQAError(f"unknown chain {chain!r}: use one of {', '.join(CHAINS)}")
    if not question.strip():
        raise DocQAError("the question is empty")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise DocQAError(f"`k` must be a whole number of chunks >= 1 (or None: as many as fit), got {k!r}")
    started = time.perf_counter()
    calls_before = len(runner.calls)
    hits = retriever.retrieve(question, k if k is not None else default_k(question, runner, history))
    retrieved = time.perf_counter()
    texts = [hit.text for hit in hits]
    limit = runner.prompt_limit
    stuffed = pack(
        texts,
        limit,
        lambda chosen: runner.prompt_tokens(_stuff_instruction(chosen, question), history),
        runner.count_tokens,
    )
    fits = len(stuffed.texts) == len(texts) and not stuffed.cut
    kind = chain if chain != "auto" else ("stuff" if fits else "refine")

    def ask(prompt: prompts.Prompt, values: Mapping[str, str]) -> str:
        return runner.ask(prompt, values, history)

    if kind == "stuff":
        steps: list[Packed] = [stuffed]
    else:

        def measure(step: int, chosen: list[str]) -> int:
            context = DOCUMENT_SEPARATOR.join(chosen)
            if step == 0:
                return runner.prompt_tokens(
                    prompts.REFINE_QA_INITIAL.fill(context_str=context, question=question), history
                )
            step_prompt = prompts.REFINE_QA_STEP.fill(
                question=question, existing_answer="", context_str=context
            )
            return runner.prompt_tokens(step_prompt, history) + runner.answer_tokens

        steps = group(texts, limit, measure, runner.count_tokens)
    if on_chain is not None:
        on_chain(kind, len(steps))
    if kind == "stuff":
        text = chains.answer(ask, question, stuffed.texts, "stuff")
    else:
        text = chains.answer(ask, question, [DOCUMENT_SEPARATOR.join(s.texts) for s in steps], "refine")
    used = sum(len(s.texts) for s in steps)
    finished = time.perf_counter()
    return Answer(
        question=question,
        text=text,
        chain=kind,
        sources=hits[:used],
        retrieved=len(hits),
        calls=len(runner.calls) - calls_before,
        timings={
            "retrieval_s": retrieved - started,
            "first_token_s": runner.first_token_after(started),
            "total_s": finished - started,
        },
        cut=any(s.cut for s in steps),
        history_turns=sum(1 for m in history if m["role"] == "user"),
        prompt_tokens=[c.completion.prompt_tokens for c in runner.calls[calls_before:]],
    )
