"""Encode user text as plain text: typed ``</s>``, ``<s>`` or ``<unk>`` never become control ids.

transformers' defaults (``tokenizer(text)``, ``tokenizer.encode(text)``) match special-token
strings inside the text, so a user who types ``</s>`` ends the turn for the model. SentencePiece
itself never produces control ids from text; this helper gives the same guarantee for any
transformers tokenizer, and for the exact tokenizers it equals ``sentencepiece.encode(text)``.
"""

from zhllama.errors import TokenizerError


def is_sentencepiece(tokenizer) -> bool:
    """Whether ``tokenizer`` is a raw ``sentencepiece.SentencePieceProcessor``."""
    return hasattr(tokenizer, "encode_as_ids") and hasattr(tokenizer, "piece_size")


def bos_eos_ids(tokenizer) -> tuple[int, int]:
    """``(BOS id, EOS id)`` of a transformers tokenizer or a raw SentencePiece processor."""
    if is_sentencepiece(tokenizer):
        return tokenizer.bos_id(), tokenizer.eos_id()
    return tokenizer.bos_token_id, tokenizer.eos_token_id


def _control_ids(tokenizer) -> set[int]:
    ids = set()
    for name in ("bos_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            ids.add(value)
    return ids


def encode_text(tokenizer, text: str) -> list[int]:
    """Return the ids of ``text`` as plain text: no BOS/EOS added, no special-token matching.

    ``tokenizer`` is a transformers tokenizer (slow or fast) or a
    ``sentencepiece.SentencePieceProcessor``. Raises TokenizerError if the tokenizer still yields a
    control id (``<s>``, ``</s>``, ``<unk>``), which would let text smuggle in a control token.
    """
    if is_sentencepiece(tokenizer):
        ids = list(tokenizer.encode(text))
        controls = {i for i in (tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.unk_id()) if i >= 0}
    else:
        ids = list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])
        controls = _control_ids(tokenizer)
    leaked = sorted(set(ids) & controls)
    if leaked:
        raise TokenizerError(
            f"the tokenizer produced control ids {leaked} for plain text {text[:60]!r}; expected a "
            "tokenizer with byte fallback (such as the one load_tokenizer returns)."
        )
    return ids
