"""Extend a SentencePiece BPE vocabulary with another model's pieces (first-generation recipe).

Chinese-LLaMA's ``merge_tokenizers.py`` appended every piece of a Chinese SentencePiece model
that Llama lacked, with score 0, keeping Llama's pieces and ids unchanged; Llama-2 (32,000) +
chinese_sp (20,000) gives 49,953 pieces. Appended pieces tie at score 0, which SentencePiece's BPE
breaks by position (see fast_tokenizer). The base must be BPE: merging into a unigram model
would need real scores.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from zhllama.core.files import write_atomic
from zhllama.core.tokenizer.model_file import MODEL_FILENAME, read_model_proto
from zhllama.errors import TokenizerError


@dataclass(frozen=True)
class MergeResult:
    """Where the merged model was written and how many pieces it has."""

    output: str
    base_pieces: int
    extra_pieces: int
    added: int

    @property
    def total(self) -> int:
        return self.base_pieces + self.added


def merge_models(base: str | os.PathLike, extra: str | os.PathLike, output: str | os.PathLike) -> MergeResult:
    """Write ``base`` + the pieces of ``extra`` it lacks (score 0, appended in order) to ``output``.

    ``base`` and ``extra`` are .model files or folders holding tokenizer.model; ``output`` is a
    file path, or an existing folder (then ``output/tokenizer.model``). Written atomically.
    Raises TokenizerError for a non-SentencePiece input or a base that is not BPE.
    """
    from sentencepiece import sentencepiece_model_pb2

    base_proto = read_model_proto(base)
    extra_proto = read_model_proto(extra)
    bpe = sentencepiece_model_pb2.TrainerSpec.BPE
    if base_proto.trainer_spec.model_type != bpe:
        kind = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(base_proto.trainer_spec.model_type)
        raise TokenizerError(
            f"the base model {base} is {kind}, expected BPE: appended score-0 pieces only make sense in "
            "a BPE model (pass the Llama tokenizer.model as BASE and the extra vocabulary as EXTRA)."
        )
    present = {p.piece for p in base_proto.pieces}
    base_count = len(base_proto.pieces)
    for piece in extra_proto.pieces:
        if piece.piece not in present:
            base_proto.pieces.append(
                sentencepiece_model_pb2.ModelProto.SentencePiece(piece=piece.piece, score=0)
            )
            present.add(piece.piece)

    out = Path(output)
    if out.is_dir():
        out = out / MODEL_FILENAME
    if not out.parent.is_dir():
        raise TokenizerError(f"the output folder {out.parent} does not exist")
    write_atomic(out, base_proto.SerializeToString())
    return MergeResult(
        output=str(out),
        base_pieces=base_count,
        extra_pieces=len(extra_proto.pieces),
        added=len(base_proto.pieces) - base_count,
    )
