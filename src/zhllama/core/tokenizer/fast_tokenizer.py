"""A transformers *fast* tokenizer that segments exactly as SentencePiece does.

Why not a plain ``tokenizers`` BPE: the 23,295 pieces Chinese-LLaMA-2 added all have score 0;
SentencePiece's BPE breaks equal-score ties by leftmost position, whereas a merge list needs a
strict rank, and whether ``不可`` or ``可能`` should merge first depends on where they occur. No
merge order reproduces it in general, so the fast tokenizer asks SentencePiece for the pieces:

- normalizer ``Prepend("▁") + Replace(" ", "▁")`` (the model's normalizer is identity with
  ``add_dummy_prefix`` and keeps extra whitespace);
- a custom Python pre-tokenizer that splits the normalized text at the piece boundaries of a
  SentencePiece copy with ``add_dummy_prefix=False``;
- a BPE model over the same vocabulary with ``ignore_merges`` (each split is looked up whole) and
  ``byte_fallback`` (a character that is not a piece becomes ``<0xNN>`` bytes, as in SentencePiece);
- the Llama decoder and a BOS post-processor; ``<unk>``, ``<s>``, ``</s>`` are special tokens.

Contract: ids equal ``[1] + sentencepiece.encode(text)`` whenever the slow tokenizer's do, offsets
are available, ``is_fast`` is True. A custom Python component cannot be written to tokenizer.json,
so ``save_pretrained`` saves the exact *slow* files instead (which ``AutoTokenizer`` reloads
without remote code), and pickling rebuilds the tokenizer from its ``tokenizer.model``.
"""

import os
from pathlib import Path
from typing import ClassVar

from transformers import TokenizersBackend

from zhllama.core.tokenizer.model_file import load_processor, read_model_proto, resolve_model_file

SPIECE_UNDERLINE = "▁"


class SentencePieceSplitter:
    """``tokenizers`` custom pre-tokenizer: split at SentencePiece's piece boundaries."""

    def __init__(self, processor) -> None:
        self._sp = processor

    def _split(self, _index, normalized):
        text = str(normalized)
        if not text:
            return []
        splits = []
        start = 0
        pending = b""
        for piece in self._sp.encode(text, out_type=str):
            if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                # Byte-fallback pieces: one split per character, once its UTF-8 bytes are complete.
                pending += bytes((int(piece[3:5], 16),))
                try:
                    width = len(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    continue
                pending = b""
            else:
                width = len(piece)
            splits.append(normalized[start : start + width])
            start += width
        return splits

    def pre_tokenize(self, pretok) -> None:
        pretok.split(self._split)


def _backend_tokenizer(proto):
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    vocab = {piece.piece: i for i, piece in enumerate(proto.pieces)}
    unk = proto.pieces[proto.trainer_spec.unk_id].piece
    bos_id = proto.trainer_spec.bos_id
    bos = proto.pieces[bos_id].piece
    tok = Tokenizer(
        BPE(vocab=vocab, merges=[], unk_token=unk, fuse_unk=True, byte_fallback=True, ignore_merges=True)
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend(SPIECE_UNDERLINE), normalizers.Replace(" ", SPIECE_UNDERLINE)]
    )
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace(SPIECE_UNDERLINE, " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
    )
    specials = [p.piece for p in proto.pieces if p.type in (p.UNKNOWN, p.CONTROL)]
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    return tok


class ExactFastTokenizer(TokenizersBackend):
    """Fast (``tokenizers``-backed) Chinese-LLaMA-2 tokenizer with SentencePiece's exact segmentation."""

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    padding_side = "left"

    def __init__(self, vocab_file: str, pad_token: str | None = "<pad>", **kwargs) -> None:
        model_file = resolve_model_file(vocab_file)
        proto = read_model_proto(model_file)
        if pad_token is not None and pad_token not in {p.piece for p in proto.pieces}:
            pad_token = None
        super().__init__(
            tokenizer_object=_backend_tokenizer(proto),
            vocab_file=str(model_file),
            bos_token="<s>",
            eos_token="</s>",
            unk_token="<unk>",
            pad_token=pad_token,
            add_bos_token=True,
            add_eos_token=False,
            clean_up_tokenization_spaces=False,
            **kwargs,
        )
        # Set after __init__: transformers deep-copies the backend, which a custom component forbids.
        from tokenizers import pre_tokenizers

        splitter = SentencePieceSplitter(load_processor(model_file, add_dummy_prefix=False))
        self._tokenizer.pre_tokenizer = pre_tokenizers.PreTokenizer.custom(splitter)

    def __reduce__(self):
        return (self.__class__, (self.vocab_file,))

    def __deepcopy__(self, memo):
        return self.__class__(self.vocab_file)

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs):
        """Save the exact slow files (tokenizer.model + config): tokenizer.json cannot hold this tokenizer."""
        from zhllama.core.tokenizer.sentencepiece_tokenizer import ChineseLlamaTokenizer

        Path(save_directory).mkdir(parents=True, exist_ok=True)
        return ChineseLlamaTokenizer(vocab_file=self.vocab_file).save_pretrained(
            save_directory, *args, **kwargs
        )
