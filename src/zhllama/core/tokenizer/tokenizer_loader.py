"""Load the family's tokenizer from a local folder or ``tokenizer.model`` file.

Both kinds tokenize exactly as SentencePiece does (BOS added, no EOS, ``<pad>`` = the ordinary
piece 32000): ``fast=False`` gives the SentencePiece-backed slow tokenizer upstream uses,
``fast=True`` a ``tokenizers``-backed one with offsets (see ``fast_tokenizer``). transformers'
own ``AutoTokenizer`` is *not* used: it converts the model to a BPE that differs on about a
quarter of Chinese lines.
"""

import os

from zhllama.core.tokenizer.model_file import load_processor, resolve_model_file
from zhllama.errors import TokenizerError

PAD_PIECE = "<pad>"


def load_tokenizer(path: str | os.PathLike, fast: bool = False):
    """Return the exact tokenizer for ``path`` (a model folder or a ``tokenizer.model`` file).

    ``fast=False``: a ``ChineseLlamaTokenizer`` (transformers ``SentencePieceBackend``).
    ``fast=True``: an ``ExactFastTokenizer`` (transformers ``TokenizersBackend``, ``is_fast``).
    Raises TokenizerError for a hub id, a missing path, a folder without tokenizer.model, or a
    file that is not a SentencePiece model. Nothing is downloaded.
    """
    model_file = resolve_model_file(path)
    processor = load_processor(model_file)  # clear errors for a bad file before transformers sees it
    # <pad> is the ordinary piece 32000 in Chinese-LLaMA-2; a vocabulary without it gets no pad token.
    has_pad = processor.piece_to_id(PAD_PIECE) != processor.unk_id()
    if fast:
        from zhllama.core.tokenizer.fast_tokenizer import ExactFastTokenizer

        return ExactFastTokenizer(vocab_file=str(model_file))

    from zhllama.core.tokenizer.sentencepiece_tokenizer import ChineseLlamaTokenizer

    try:
        return ChineseLlamaTokenizer(vocab_file=str(model_file), pad_token=PAD_PIECE if has_pad else None)
    except (OSError, RuntimeError) as e:  # pragma: no cover - load_processor checked the file
        raise TokenizerError(f"cannot load {model_file} as a tokenizer: {e}") from e
