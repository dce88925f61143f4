"""Question words: the interrogatives of a question weigh less in its BM25 query.

A question's 什么, 哪, 是谁 or 多少 say what kind of answer is wanted, not where it is; but their
characters and the pairs around them (是谁, 的哪) are common enough in text that a passage which
repeats them can outweigh the one passage that holds the question's rare, distinctive word. So the
query terms that touch a question word count ``WEIGHT`` times as much: a character inside one, and a
character pair with either character inside one (``lexical.question_word_terms``). The index is not
affected, only queries.

``QUESTION_WORDS`` is a fixed list of Chinese interrogatives written down from the grammar, not
learned from the questions or their answers; they are matched in the normalised (Simplified) text,
so Traditional questions (誰, 幾, 為什麼) match too. The weight 0.25 was chosen on the first halves
of the CMRC trial and DRCD test questions, together with BM25's k1, b and idf power
(``lexical``) and the window ranking (``windows``); docs/docqa.md reports the other halves.
"""

from __future__ import annotations

import numpy as np

QUESTION_WORDS = (
    "什么", "哪", "谁", "几", "多少", "如何", "为何", "为什么", "怎么", "怎样", "何", "吗",
    "呢", "是否", "多久", "多大", "多长", "多高", "多远", "哪些", "哪里", "哪个", "哪一",
)  # fmt: skip
WEIGHT = 0.25
"""How much a query term that touches a question word counts, relative to its BM25 weight."""


def inside_question_words(normalised: str) -> np.ndarray:
    """Which characters of ``normalised`` (already ``normalise``-d) lie inside a question word (bool
    per character)."""
    inside = np.zeros(len(normalised), dtype=bool)
    for word in QUESTION_WORDS:
        start = normalised.find(word)
        while start >= 0:
            inside[start : start + len(word)] = True
            start = normalised.find(word, start + 1)
    return inside
