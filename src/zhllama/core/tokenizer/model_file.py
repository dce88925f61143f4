"""Find and read a SentencePiece model file: the one place that turns bad paths into clear errors.

Everything here is local: zhllama never downloads a tokenizer, so a hub id is an error that says so.
"""

import os
from pathlib import Path

from zhllama.errors import TokenizerError

MODEL_FILENAME = "tokenizer.model"


def resolve_model_file(path: str | os.PathLike) -> Path:
    """Return the SentencePiece model file for ``path`` (a folder holding tokenizer.model, or the file).

    Raises TokenizerError for a missing path (a hub id included: no network is used) and for a
    folder without tokenizer.model.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        model = p / MODEL_FILENAME
        if model.is_file():
            return model
        raise TokenizerError(
            f"{p} holds no {MODEL_FILENAME}: expected a model folder containing the SentencePiece "
            f"{MODEL_FILENAME} (or pass the path of a .model file)."
        )
    looks_like_hub_id = not p.is_absolute() and str(path).count("/") == 1 and not str(path).startswith(".")
    hint = " It looks like a Hugging Face hub id;" if looks_like_hub_id else ""
    raise TokenizerError(
        f"tokenizer path {str(path)!r} does not exist.{hint} zhllama uses no network: download the "
        f"model first and pass a local folder containing {MODEL_FILENAME} (or the file itself)."
    )


def read_model_proto(path: str | os.PathLike):
    """Parse ``path`` (resolved as in :func:`resolve_model_file`) into a SentencePiece ``ModelProto``.

    Raises TokenizerError when the file is not a SentencePiece model.
    """
    from google.protobuf.message import DecodeError
    from sentencepiece import sentencepiece_model_pb2

    model_file = resolve_model_file(path)
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(model_file.read_bytes())
    except (DecodeError, ValueError, RuntimeError) as e:
        raise TokenizerError(
            f"{model_file} is not a SentencePiece model ({e}); expected a tokenizer.model written by "
            "sentencepiece (a tokenizer.json or vocabulary text file will not do)."
        ) from e
    if len(proto.pieces) == 0:
        raise TokenizerError(
            f"{model_file} is not a SentencePiece model (it holds no pieces); expected a tokenizer.model "
            "written by sentencepiece."
        )
    return proto


def load_processor(path: str | os.PathLike, add_dummy_prefix: bool | None = None):
    """Return a ``sentencepiece.SentencePieceProcessor`` for ``path``.

    ``add_dummy_prefix`` overrides the model's own normalizer setting (the exact fast tokenizer
    segments text it has already prefixed).
    """
    import sentencepiece as spm

    proto = read_model_proto(path)
    if add_dummy_prefix is not None:
        proto.normalizer_spec.add_dummy_prefix = add_dummy_prefix
    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto.SerializeToString())
    except (RuntimeError, OSError) as e:
        raise TokenizerError(f"sentencepiece cannot load {resolve_model_file(path)}: {e}") from e
    return processor
