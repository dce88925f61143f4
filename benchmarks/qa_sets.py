"""The shared QA sets as retrieval tasks: every paragraph a document, every question a query.

``load_cmrc(assets)`` (CMRC 2018 trial, Simplified) and ``load_drcd(assets, simplified=False)``
(DRCD test, Traditional; ``simplified=True`` converts the *questions* to Simplified with OpenCC
so a Simplified question must find Traditional text). A question's relevant document is the
paragraph it was asked about; paragraphs with identical text are merged (first occurrence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Question:
    text: str
    paragraph: int


@dataclass(frozen=True)
class QASet:
    name: str
    paragraphs: list[str]
    questions: list[Question]


def _load(path: Path, name: str, convert_questions=None) -> QASet:
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[str] = []
    index: dict[str, int] = {}
    questions: list[Question] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            text = para["context"]
            if text not in index:
                index[text] = len(paragraphs)
                paragraphs.append(text)
            for qa in para["qas"]:
                q = qa["question"] if convert_questions is None else convert_questions(qa["question"])
                questions.append(Question(q, index[text]))
    return QASet(name, paragraphs, questions)


def load_cmrc(assets: Path) -> QASet:
    return _load(Path(assets) / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json", "CMRC 2018 trial")


def load_drcd(assets: Path, simplified: bool = False) -> QASet:
    path = Path(assets) / "qa" / "drcd" / "DRCD_test.json"
    if not simplified:
        return _load(path, "DRCD test")
    import opencc

    converter = opencc.OpenCC("t2s")
    return _load(path, "DRCD test, questions in Simplified", converter.convert)
