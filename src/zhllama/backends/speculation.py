"""Speculative decoding options shared by the local backends: a draft model or prompt lookup.

Speculation changes how fast a reply comes, never which reply: every proposed token is checked
against the target model, so greedy output with speculation is the greedy output without it, token
for token (the tests check it in each runtime). Two ways to propose tokens:

- ``draft``: a smaller model with the *same vocabulary* (Chinese-Alpaca-2-1.3B for the 7B/13B, or a
  self-speculative draft cut from the model, ``zhllama.checkpoints.draft.derive_draft``): a folder
  for transformers, a GGUF file for llama.cpp;
- ``lookup``: prompt-lookup decoding, which proposes the ``lookup`` tokens that followed the last
  matching n-gram (up to 2 tokens) earlier in the prompt: free, and right when a reply quotes its
  context (document QA).

Each runtime uses its own implementation: transformers' assisted generation
(``assistant_model`` / ``prompt_lookup_num_tokens``), llama-cpp-python's ``draft_model``
(``LlamaPromptLookupDecoding``, or a GGUF draft), vLLM's ``speculative_config``.
"""

from collections.abc import Sequence

from zhllama.backends.protocol import BackendError

LOOKUP_NGRAM = 2
"""The longest n-gram prompt lookup matches: transformers', llama-cpp-python's and vLLM's default."""


def check_speculation(draft: object | None, lookup: int | None) -> None:
    """Refuse a ``draft`` and a ``lookup`` together, and a ``lookup`` that is not a positive count."""
    if draft is not None and lookup is not None:
        raise BackendError("give `draft` (a draft model) or `lookup` (prompt lookup), not both")
    if lookup is not None and (isinstance(lookup, bool) or not isinstance(lookup, int) or lookup < 1):
        raise BackendError(
            f"`lookup` is how many tokens prompt lookup proposes: a whole number >= 1, not {lookup!r}"
        )


def check_same_vocabulary(target: Sequence[str], draft: Sequence[str], draft_name: str) -> None:
    """Refuse a draft whose vocabulary (pieces by id) is not the target's: its tokens would mean
    other text, and every proposal would be wrong."""
    if list(target) == list(draft):
        return
    if len(target) != len(draft):
        detail = f"{len(draft)} pieces, the model {len(target)}"
    else:
        first = next(i for i, (a, b) in enumerate(zip(target, draft, strict=True)) if a != b)
        detail = f"id {first} is {draft[first]!r} in the draft, {target[first]!r} in the model"
    raise BackendError(
        f"the `draft` {draft_name} has another vocabulary than the model ({detail}): a draft must use the "
        "model's tokenizer (Chinese-Alpaca-2-1.3B drafts for the Chinese-LLaMA-2/Alpaca-2 family; "
        "or derive one with zhllama.checkpoints.draft.derive_draft)"
    )
