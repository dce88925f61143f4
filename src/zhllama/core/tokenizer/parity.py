"""Compare a transformers tokenizer with SentencePiece, line by line: its ids, and its text back.

Ids: the reference is ``sentencepiece.encode(line)`` (the segmentation the model was trained on).
The candidate encodes each line as plain text (``encode_text``: no BOS, no special-token matching),
so only segmentation differences count. Text: both decode SentencePiece's ids of the line; the
reference is ``sentencepiece.decode``, which is what the model's output means.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from zhllama.core.tokenizer.model_file import load_processor
from zhllama.core.tokenizer.safe_encoding import encode_text


@dataclass(frozen=True)
class Mismatch:
    """One line on which the candidate differs: its pieces (ids check) or its text (decode check)."""

    line: str
    sentencepiece: list[str] | str
    candidate: list[str] | str


@dataclass
class ParityReport:
    """How many lines were compared, how many differed, and a few examples."""

    lines: int = 0
    mismatched: int = 0
    examples: list[Mismatch] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatched / self.lines if self.lines else 0.0

    def to_dict(self) -> dict:
        return {
            "lines": self.lines,
            "mismatched": self.mismatched,
            "mismatch_rate": self.mismatch_rate,
            "examples": [vars(m) for m in self.examples],
        }


def compare_with_sentencepiece(
    tokenizer, model_file: str | os.PathLike, lines: Iterable[str], max_examples: int = 5
) -> ParityReport:
    """Encode every line with ``tokenizer`` and with SentencePiece (``model_file``); count differences."""
    sp = load_processor(model_file)
    report = ParityReport()
    for line in lines:
        expected = sp.encode(line)
        got = encode_text(tokenizer, line)
        report.lines += 1
        if got != expected:
            report.mismatched += 1
            if len(report.examples) < max_examples:
                report.examples.append(
                    Mismatch(
                        line=line,
                        sentencepiece=[sp.id_to_piece(i) for i in expected],
                        candidate=tokenizer.convert_ids_to_tokens(got),
                    )
                )
    return report


def compare_decoding(
    tokenizer, model_file: str | os.PathLike, lines: Iterable[str], max_examples: int = 5
) -> ParityReport:
    """Decode SentencePiece's ids of each line with ``tokenizer`` and with SentencePiece; count mismatches."""
    sp = load_processor(model_file)
    report = ParityReport()
    for line in lines:
        ids = sp.encode(line)
        expected = sp.decode(ids)
        got = tokenizer.decode(ids)
        report.lines += 1
        if got != expected:
            report.mismatched += 1
            if len(report.examples) < max_examples:
                report.examples.append(Mismatch(line=line, sentencepiece=expected, candidate=got))
    return report
