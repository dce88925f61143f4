"""A SentencePiece model as the ``tokenizer.ggml.*`` arrays llama.cpp's ``llama`` tokenizer reads.

llama.cpp's SPM tokenizer merges by piece score and breaks ties by text position, as
SentencePiece's BPE does, so copying every piece with its own score and type reproduces
SentencePiece's segmentation (the added Chinese pieces all score 0: their order must not be
"repaired"). SentencePiece's piece types (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4,
UNUSED 5, BYTE 6) are numbered as GGUF's token types are.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    """Pieces, scores and token types in id order, with the control ids and normalizer flags."""

    pieces: list[bytes]
    scores: list[float]
    types: list[int]
    bos_id: int
    eos_id: int
    unk_id: int
    pad_id: int | None
    add_space_prefix: bool
    remove_extra_whitespaces: bool


def read_vocabulary(tokenizer_path: str | os.PathLike) -> Vocabulary:
    """The vocabulary of a ``tokenizer.model`` (or of the folder holding one)."""
    from zhllama.core.tokenizer.model_file import read_model_proto

    proto = read_model_proto(tokenizer_path)
    pieces = [piece.piece.encode("utf-8") for piece in proto.pieces]
    index = {piece.piece: i for i, piece in enumerate(proto.pieces)}
    trainer = proto.trainer_spec
    pad = index.get("<pad>") if trainer.pad_id < 0 else trainer.pad_id
    return Vocabulary(
        pieces=pieces,
        scores=[float(piece.score) for piece in proto.pieces],
        types=[int(piece.type) for piece in proto.pieces],
        bos_id=int(trainer.bos_id),
        eos_id=int(trainer.eos_id),
        unk_id=int(trainer.unk_id),
        pad_id=pad,
        add_space_prefix=bool(proto.normalizer_spec.add_dummy_prefix),
        remove_extra_whitespaces=bool(proto.normalizer_spec.remove_extra_whitespaces),
    )
