"""A transformers tokenizer that tokenizes exactly as SentencePiece does.

transformers 5 converts every Llama ``tokenizer.model`` into a ``tokenizers`` BPE whose merge
list needs a strict rank; the Chinese-LLaMA-2 pieces tie at score 0 and SentencePiece breaks
those ties by position, so the converted tokenizer disagrees on about a quarter of Chinese
lines. This class keeps SentencePiece as the segmenter (upstream's slow, ``legacy=True``
behaviour: BOS added, no EOS).

This module imports only transformers and sentencepiece: ``zhllama tokenizer check --fix``
copies it verbatim into a model folder so that runtimes without zhllama load it too.
"""

from transformers.tokenization_utils_sentencepiece import SentencePieceBackend


class ChineseLlamaTokenizer(SentencePieceBackend):
    """SentencePiece-backed Llama tokenizer configured as the Chinese-LLaMA-2 project uses it."""

    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "left"

    def __init__(
        self,
        vocab_file: str,
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        unk_token: str = "<unk>",
        pad_token: str | None = None,
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
