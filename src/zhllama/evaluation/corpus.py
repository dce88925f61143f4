"""Evaluation text: UTF-8 files turned into token streams, then into non-overlapping windows.

Each file is one stream (windows never straddle two files). ``tail_tokens`` keeps only the last N
tokens of each file's tokenization: the tiny test model held out the last 40,000 tokens of each
novel, so ``tail_tokens=40000`` evaluates on text it never saw.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zhllama.errors import ZhllamaError


@dataclass(frozen=True)
class TokenStream:
    """The token ids of one evaluation file."""

    name: str
    ids: list[int]


def read_corpus(
    paths: Sequence[str | os.PathLike],
    encode: Callable[[str], list[int]],
    tail_tokens: int | None = None,
) -> list[TokenStream]:
    """Read and tokenize each file (``encode`` adds no BOS); keep its last ``tail_tokens`` ids if given.

    Raises ``ZhllamaError`` for no files, a missing file, a file that is not UTF-8, an empty file,
    or a ``tail_tokens`` that is not a positive integer.
    """
    if not paths:
        raise ZhllamaError("no evaluation data: pass at least one UTF-8 text file (`data`)")
    if tail_tokens is not None and (isinstance(tail_tokens, bool) or int(tail_tokens) < 1):
        raise ZhllamaError(f"tail_tokens must be a positive number of tokens, got {tail_tokens!r}")
    streams = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ZhllamaError(f"evaluation data file {str(raw)!r} does not exist (or is not a file)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ZhllamaError(
                f"evaluation data file {str(raw)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}): "
                "convert it, e.g. `iconv -f GB18030 -t UTF-8`"
            ) from exc
        ids = list(encode(text))
        if not ids:
            raise ZhllamaError(f"evaluation data file {str(raw)!r} holds no text")
        if tail_tokens is not None:
            ids = ids[-int(tail_tokens) :]
        streams.append(TokenStream(path.name, ids))
    return streams


def cut_windows(
    streams: Sequence[TokenStream], length: int, max_windows_per_file: int | None = None
) -> list[list[int]]:
    """Consecutive non-overlapping ``length``-token windows of each stream, from its start.

    A stream's remainder shorter than ``length`` is dropped. ``max_windows_per_file`` keeps the first
    N windows of each stream (to bound the cost of long lengths). No window at all is an error.
    """
    windows = []
    for stream in streams:
        count = len(stream.ids) // length
        if max_windows_per_file is not None:
            count = min(count, max_windows_per_file)
        windows += [stream.ids[i * length : (i + 1) * length] for i in range(count)]
    if not windows:
        longest = max((len(s.ids) for s in streams), default=0)
        raise ZhllamaError(
            f"no {length}-token window fits the evaluation data (longest file: {longest} tokens): "
            "give more text or shorter `lengths`"
        )
    return windows
