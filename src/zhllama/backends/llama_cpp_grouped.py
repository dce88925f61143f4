"""Grouped attention (``selfextend``) in llama.cpp, by moving the cached keys' positions.

llama.cpp caches each key once, rotated at its position, and rotates a cached key again when its
position moves (``llama_memory_seq_add``: the "K-shift"). RoPE scores depend only on the
difference of positions, so one query at position ``t`` sees SelfExtend's distances if every key
``j`` within its window sits at ``j`` and every farther key at ``j // G + t - grouped(t)``
(``grouped(t) = t // G + W - W // G``, the query's grouped position): the distance is then
``grouped(t) - j // G``. From one token to the next that layout changes little: the far keys move
by 0 or 1, and the one key leaving the window moves down to its grouped place. So each token is
decoded on its own (the first ``W``, which see only neighbours, in one batch), after at most three
``llama_memory_seq_add`` calls; llama.cpp applies the net move of each key at the next decode.

This is exact SelfExtend, not llama.cpp's own ``--grp-attn-n``/``--grp-attn-w`` (``seq_div`` on
whole blocks: keys keep the grouped position they got, queries are not grouped). The cost is one
decode per token, also for the prompt, and a K-shift over the cache at every token. The K cache
should be float32 (the plan sets ``type_k``): keys are re-rotated many times.

``enable(llama, group=G, window=W)`` replaces the ``eval`` of one ``llama_cpp.Llama`` (its
``generate`` and ``create_completion`` then run grouped); a prompt that reuses a cached prefix is
replayed from its start, since cached positions no longer say which token a key is.
"""

import types
from typing import Any

from zhllama.backends.protocol import BackendError

SEQ_ADD = ("llama_memory_seq_add", "llama_kv_self_seq_add", "llama_kv_cache_seq_add")
"""The names llama-cpp-python has given "add to the positions of a sequence's cached keys"."""
_AWAY = 1 << 24
"""A position no token reaches: where the key leaving the window waits while the others move."""


def _seq_add(llama_cpp: Any, context: Any) -> Any:
    """``seq_add(p0, p1, delta)`` on sequence 0, through whichever API this llama-cpp-python has."""
    name = next((name for name in SEQ_ADD if hasattr(llama_cpp, name)), None)
    if name is None:
        raise BackendError(
            "grouped attention (selfextend) needs llama-cpp-python's low-level KV position API, "
            f"which this version lacks (none of {', '.join(SEQ_ADD)}): upgrade llama-cpp-python "
            "(0.3.10 or later has llama_memory_seq_add), or use another rope method"
        )
    function = getattr(llama_cpp, name)
    if name == "llama_memory_seq_add":
        memory = context.memory
        if not llama_cpp.llama_memory_can_shift(memory):
            raise BackendError(
                "grouped attention (selfextend): this model's llama.cpp KV cache cannot move positions "
                "(llama_memory_can_shift is false, e.g. a recurrent or sliding-window model): use "
                "another rope method"
            )
        return lambda p0, p1, delta: function(memory, 0, p0, p1, delta)
    return lambda p0, p1, delta: function(context.ctx, 0, p0, p1, delta)


def enable(llama: Any, group: int, window: int) -> None:
    """Make ``llama`` (a ``llama_cpp.Llama``) attend with grouped attention (``group``, ``window``)."""
    import llama_cpp

    from zhllama.core.rope_scaling.selfextend import check_group_window, grouped_query_position

    group, window = check_group_window(group, window)
    if window < 2:
        raise BackendError(
            "grouped attention in llama.cpp needs `window` >= 2: llama.cpp decodes a token only right "
            "after the previous one's position, which must stay exact"
        )
    if llama._logits_all:
        raise BackendError(
            "grouped attention in llama.cpp keeps the logits of the last token only: load without "
            "logits_all=True (no logprobs)"
        )
    seq_add = _seq_add(llama_cpp, llama._ctx)

    def offset(t: int) -> int:
        """Where the grouped key positions start for the query at ``t``."""
        return t - grouped_query_position(t, group, window)

    fed = 0  # tokens whose keys are cached in the grouped layout

    def decode(self: Any, tokens: list[int], start: int) -> None:
        self._batch.set_batch(batch=tokens, n_past=start, logits_all=False)
        self._ctx.decode(self._batch)

    def grouped_eval(self: Any, tokens: Any) -> None:
        nonlocal fed
        tokens = list(tokens)
        if self.n_tokens != fed:  # a reset or a reused prefix: positions no longer say which key is which
            self._ctx.kv_cache_clear()
            tokens = [int(token) for token in self.input_ids[: self.n_tokens]] + tokens
            self.n_tokens = fed = 0
        t = self.n_tokens
        while tokens:
            if t < window:  # every cached key is a neighbour: plain decoding, in batches
                batch = tokens[: min(window - t, self.n_batch)]
            else:
                leaving = t - window
                seq_add(leaving, leaving + 1, _AWAY)
                if leaving:
                    seq_add(0, leaving, offset(t) - offset(t - 1))
                seq_add(leaving + _AWAY, leaving + _AWAY + 1, leaving // group + offset(t) - leaving - _AWAY)
                batch = tokens[:1]
            decode(self, batch, t)
            self.input_ids[t : t + len(batch)] = batch
            t += len(batch)
            tokens = tokens[len(batch) :]
            self.n_tokens = fed = t
        self._requires_eval = False

    llama.eval = types.MethodType(grouped_eval, llama)
