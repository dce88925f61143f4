"""Lexical retrieval: BM25 (bm25s) over script-normalised Chinese character n-grams or jieba words.

Analysers (both see ``normalise(text)``: NFKC, lower case, Traditional to Simplified):

- ``"bigram"`` (the default): every CJK character and every pair of adjacent CJK characters,
  Latin/digit runs as words, punctuation dropped. It needs no dictionary, so it does not split
  names, terms and Traditional-only words wrongly; measured on CMRC trial and DRCD test it beats
  jieba on recall and MRR (docs/docqa.md, DESIGN §4) and indexes faster.
- ``"jieba"``: jieba's ``lcut_for_search`` words (kept for comparison in the benchmark).

``LexicalIndex.build(ids, texts)`` indexes; ``search(query, k)`` returns ``(id, score)`` pairs,
best first, scores > 0 only; ``save(dir)``/``load(dir)`` persist it with a ``generation`` tag so a
reader can tell whether it matches the store it was derived from.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from zhllama.docqa.normalisation import normalise
from zhllama.errors import DocQAError

ANALYSERS = ("bigram", "jieba")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_OR_WORD = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


def bigram_tokens(text: str) -> list[str]:
    """Characters and adjacent-character pairs of each CJK run, plus Latin/digit words, of normalised text."""
    tokens: list[str] = []
    for cjk, word in _CJK_OR_WORD.findall(normalise(text)):
        if cjk:
            tokens.extend(cjk)
            tokens.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
        else:
            tokens.append(word)
    return tokens


@cache
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_tokens(text: str) -> list[str]:
    """jieba's search-mode words of normalised text, punctuation and spaces dropped."""
    return [w for w in _jieba().lcut_for_search(normalise(text)) if _CJK_OR_WORD.search(w)]


def analyse(text: str, analyser: str = "bigram") -> list[str]:
    """The index terms of ``text`` under ``analyser`` (``"bigram"`` or ``"jieba"``)."""
    if analyser == "bigram":
        return bigram_tokens(text)
    if analyser == "jieba":
        return jieba_tokens(text)
    raise DocQAError(f"unknown lexical analyser {analyser!r}; choose one of {', '.join(ANALYSERS)}")


@dataclass
class LexicalIndex:
    """A BM25 index over chunk ids; ``generation`` names the store state it was built from."""

    ids: list[str]
    analyser: str = "bigram"
    generation: str = ""
    _bm25: object = field(default=None, repr=False)

    @classmethod
    def build(
        cls, ids: list[str], texts: list[str], analyser: str = "bigram", generation: str = ""
    ) -> LexicalIndex:
        import bm25s

        if len(ids) != len(texts):
            raise DocQAError(f"{len(ids)} ids for {len(texts)} texts")
        # in chunk-id order, so equal scores rank by chunk id whatever order the store gave them in
        order = sorted(range(len(ids)), key=ids.__getitem__)
        bm25 = bm25s.BM25()
        if texts:
            bm25.index([analyse(texts[i], analyser) for i in order], show_progress=False)
        return cls([ids[i] for i in order], analyser, generation, bm25)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best ``(chunk id, BM25 score)`` pairs for ``query``; ties in chunk-id order."""
        if not self.ids or k <= 0:
            return []
        terms = analyse(query, self.analyser)
        if not terms:
            return []
        scores = np.asarray(self._bm25.get_scores(terms))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: str | os.PathLike) -> None:
        """Write the index into ``directory`` (created; callers make it visible atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self._bm25.save(str(directory), show_progress=False)
        meta = {"analyser": self.analyser, "generation": self.generation, "ids": self.ids}
        (directory / "chunks.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> LexicalIndex:
        import bm25s

        directory = Path(directory)
        meta = json.loads((directory / "chunks.json").read_text(encoding="utf-8"))
        bm25 = bm25s.BM25.load(str(directory), show_progress=False) if meta["ids"] else None
        return cls(meta["ids"], meta["analyser"], meta["generation"], bm25)
