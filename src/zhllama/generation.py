"""Chat with a loaded model in-process: the Alpaca-2 prompt, safe ids, upstream sampling.

A convenience over ``zhllama.backends.TransformersBackend`` for callers holding a
``(model, tokenizer)`` pair from ``zhllama.load``.
"""

from collections.abc import Callable
from typing import Any

from zhllama.core.sampling import UPSTREAM, Sampling


def generate_reply(
    model: Any,
    tokenizer: Any,
    messages: list[dict[str, str]],
    *,
    template: str = "alpaca-2",
    sampling: Sampling = UPSTREAM,
    greedy: bool = False,
    seed: int | None = None,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """Generate the assistant's next message for ``messages`` and return its text.

    The prompt ids come from the template's structure (BOS/EOS only where the template puts
    them; typed control strings stay text). ``greedy`` switches sampling off (the repetition
    penalty still applies, as upstream). ``on_text`` receives the reply as it is produced.
    """
    from zhllama.backends import TransformersBackend

    backend = TransformersBackend(model, tokenizer)
    completion = backend.complete(
        messages, template=template, sampling=sampling, greedy=greedy, seed=seed, on_text=on_text
    )
    return completion.text
