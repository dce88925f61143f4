"""Conversation -> token ids, with control ids only where the template puts them.

Upstream tokenizes the rendered prompt with the slow tokenizer, which turns ``<s>``/``</s>``
anywhere in the text into BOS/EOS, including ones a user typed. ``encode_messages`` instead
walks the template's segments: BOS and EOS come from the structure, every text run is encoded
as plain text. For text without control strings the ids equal ``tokenizer(render(...))``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from zhllama.core.templates.model import Segment, Template
from zhllama.core.tokenizer.safe_encoding import bos_eos_ids, encode_text


def encode_segments(tokenizer: Any, segments: Sequence[Segment]) -> list[int]:
    """Ids of ``segments``: text runs between control tokens are encoded as one string each."""
    ids: list[int] = []
    run: list[str] = []
    bos, eos = bos_eos_ids(tokenizer)

    def flush() -> None:
        if run:
            ids.extend(encode_text(tokenizer, "".join(run)))
            run.clear()

    for segment in segments:
        if segment.kind == "bos":
            flush()
            ids.append(bos)
        elif segment.kind == "eos":
            flush()
            ids.append(eos)
        else:
            run.append(segment.text)
    flush()
    return ids


def encode_messages(
    tokenizer: Any,
    template: Template,
    messages: Sequence[Mapping[str, Any]],
    add_generation_prompt: bool = True,
) -> list[int]:
    """Token ids for ``messages`` under ``template``, BOS first.

    BOS starts each turn and EOS ends each answer only because the template says so; text
    anyone supplied (``</s>``, ``<s>``, ``[INST]``, ``<<SYS>>``) is encoded as ordinary pieces.
    """
    return encode_segments(tokenizer, template.segments(messages, add_generation_prompt))
