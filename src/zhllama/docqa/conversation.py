"""Multi-turn document QA: ``Conversation(retriever, runner).ask(question) -> Answer``.

Each question is answered like ``qa ask`` (retrieval for *that* question, its chunks fitted into
the prompt), with the earlier turns in front as plain question/answer pairs (the retrieved text of
earlier turns is not repeated: it would crowd out the new question's documents). The history is
cut with ``truncate_history`` to ``history_tokens`` (default: half of what the window leaves for a
prompt), dropping the oldest whole turns first, the system prompt moving to the new first turn as
upstream's demos do; the rest of the prompt budget goes to the new question's documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zhllama.core.templates import get_template, truncate_history
from zhllama.docqa.answer import Answer, answer_question
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.runner import PromptRunner
from zhllama.errors import TemplateError


@dataclass
class Conversation:
    """The turns so far (question, answer) and how to answer the next one."""

    retriever: Retriever
    runner: PromptRunner
    k: int | None = None
    chain: str = "auto"
    history_tokens: int | None = None
    turns: list[tuple[str, str]] = field(default_factory=list)

    def history(self, question: str) -> list[dict[str, str]]:
        """The earlier turns that fit the history budget together with ``question``."""
        messages = [
            message
            for asked, answered in self.turns
            for message in ({"role": "user", "content": asked}, {"role": "assistant", "content": answered})
        ]
        if not messages:
            return []
        budget = self.history_tokens if self.history_tokens is not None else self.runner.prompt_limit // 2
        tokenizer = self.runner.backend.tokenizer  # every zhllama backend exposes its exact tokenizer
        try:
            kept = truncate_history(
                [*messages, {"role": "user", "content": question}],
                tokenizer,
                budget,
                get_template(self.runner.template),
            )
        except TemplateError:  # the question alone is over the history budget: no history
            return []
        return kept[:-1]

    def ask(self, question: str) -> Answer:
        """Answer ``question`` grounded in its own retrieval, after the history that fits."""
        answer = answer_question(
            question, self.retriever, self.runner, k=self.k, chain=self.chain, history=self.history(question)
        )
        self.turns.append((question, answer.text))
        return answer
