"""A transformers tokenizer that tokenizes exactly as SentencePiece does.

transformers 5 converts every Llama ``tokenizer.model`` into a ``tokenizers`` BPE whose merge
list needs a strict rank; the Chinese-LLaMA-2 pieces tie at score 0 and SentencePiece breaks
those ties by position, so the converted tokenizer disagrees on about a quarter of Chinese
lines. This class keeps SentencePiece as the segmenter (upstream's slow, ``legacy=True``
behaviour: BOS added, no EOS).

This module imports only transformers and sentencepiece, so that it can be copied verbatim into
a model folder and loaded by runtimes without zhllama.
"""

import json
import os
from typing import ClassVar

from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

# What a tokenizer_config.json must say so that a plain ``AutoTokenizer.from_pretrained(folder)``
# (no trust_remote_code) builds transformers' own SentencePiece-backed class configured like this
# one. ``special_tokens_pattern`` is not saved by transformers itself: without it BOS is lost.
EXACT_TOKENIZER_CONFIG = {
    "tokenizer_class": "SentencePieceBackend",
    "backend": "sentencepiece",
    "legacy": True,
    "special_tokens_pattern": "bos",
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "use_fast": False,
}


def join_pieces(sp_model, tokens: list[str], specials: set[str]) -> str:
    """``tokens`` as text, exactly as ``sp_model.decode`` gives the same pieces.

    SentencePiece turns ``<0xNN>`` byte pieces back into UTF-8 and drops only the dummy-prefix
    space of the first piece. Special tokens are kept as text (transformers' convention): the runs
    between them are decoded separately, and a run after one keeps its leading space.
    """
    out: list[str] = []
    segment: list[str] = []

    def flush() -> None:
        if segment:
            text = sp_model.decode_pieces(segment)
            if out and segment[0].startswith("▁"):
                text = " " + text  # sentencepiece strips the leading space of every call
            out.append(text)
            segment.clear()

    for token in tokens:
        if token in specials:
            flush()
            out.append(token)
        else:
            segment.append(token)
    flush()
    return "".join(out)


class ChineseLlamaTokenizer(SentencePieceBackend):
    """SentencePiece-backed Llama tokenizer configured as the Chinese-LLaMA-2 project uses it."""

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "tokenizer.model"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    padding_side = "left"

    def __init__(
        self,
        vocab_file: str,
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        unk_token: str = "<unk>",
        pad_token: str | None = "<pad>",
        legacy: bool = True,
        **kwargs,
    ) -> None:
        kwargs.pop("special_tokens_pattern", None)
        super().__init__(
            vocab_file=vocab_file,
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            pad_token=pad_token,
            legacy=legacy,
            special_tokens_pattern="bos",
            **kwargs,
        )

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Join pieces as SentencePiece does (see ``join_pieces``)."""
        return join_pieces(self.sp_model, tokens, set(self.all_special_tokens))

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save so that ``AutoTokenizer.from_pretrained(save_directory)`` rebuilds this exact tokenizer.

        The saved ``tokenizer_class`` is transformers' own ``SentencePieceBackend`` (no remote code
        needed) and the config carries ``special_tokens_pattern`` and ``legacy``.
        """
        saved = super().save_pretrained(save_directory, *args, **kwargs)
        config_path = os.path.join(str(save_directory), "tokenizer_config.json")
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        config.update(EXACT_TOKENIZER_CONFIG)
        config.pop("auto_map", None)
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
            f.write("\n")
        return saved
