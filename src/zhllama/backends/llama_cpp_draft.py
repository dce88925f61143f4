"""Draft models for llama-cpp-python's speculative decoding: prompt lookup or a second GGUF.

llama-cpp-python's ``Llama(draft_model=...)`` takes any ``LlamaDraftModel`` (called with the ids so
far, returning the proposed next ids) and ships one, ``LlamaPromptLookupDecoding``. ``GgufDraft``
is the same interface over a second, smaller ``Llama``: greedy proposals from a draft GGUF, its KV
cache reused for the prefix it has already seen. Imported only when a backend is built with
speculation, since it imports ``llama_cpp``.
"""

import os
from typing import Any

import numpy as np
from llama_cpp.llama_speculative import LlamaDraftModel, LlamaPromptLookupDecoding

from zhllama.backends.speculation import LOOKUP_NGRAM, check_same_vocabulary

DRAFT_TOKENS = 4
"""Tokens a draft GGUF proposes per step (llama.cpp's ``--draft-max`` is 16 for big drafts; small
models on a CPU gain most from short runs)."""


class GgufDraft(LlamaDraftModel):
    """Greedy proposals of ``tokens`` ids at a time from the ``Llama`` of a draft GGUF."""

    def __init__(self, llama: Any, tokens: int = DRAFT_TOKENS) -> None:
        self.llama = llama
        self.tokens = tokens
        self.eos = int(llama.token_eos())

    def __call__(self, input_ids: np.ndarray, /, **kwargs: Any) -> np.ndarray:
        room = self.llama.n_ctx() - len(input_ids) - 1
        proposed: list[int] = []
        if room > 0:
            steps = self.llama.generate(
                [int(i) for i in input_ids], temp=0.0, top_k=1, min_p=0.0, repeat_penalty=1.0, reset=True
            )
            try:
                for token in steps:
                    if token == self.eos:
                        break
                    proposed.append(int(token))
                    if len(proposed) >= min(self.tokens, room):
                        break
            finally:
                steps.close()
        return np.array(proposed, dtype=np.intc)


def vocabulary(llama: Any) -> list[str]:
    """The pieces of a ``Llama``'s vocabulary, in id order."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    return [
        llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8", errors="replace")
        for token in range(llama.n_vocab())
    ]


def draft_model(draft: str | os.PathLike | None, lookup: int | None, **draft_kwargs: Any) -> LlamaDraftModel:
    """The ``draft_model`` of a ``Llama``: prompt lookup proposing ``lookup`` tokens, or the GGUF
    ``draft`` loaded with ``draft_kwargs``."""
    if lookup is not None:
        return LlamaPromptLookupDecoding(max_ngram_size=LOOKUP_NGRAM, num_pred_tokens=lookup)
    from llama_cpp import Llama

    return GgufDraft(Llama(model_path=str(draft), **draft_kwargs))


def check_draft_vocabulary(target: Any, drafter: GgufDraft, draft: str | os.PathLike) -> None:
    """Refuse a draft GGUF whose vocabulary is not the target ``Llama``'s."""
    check_same_vocabulary(vocabulary(target), vocabulary(drafter.llama), repr(str(draft)))
