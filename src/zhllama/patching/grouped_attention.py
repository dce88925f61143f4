"""The attention grouped attention (``selfextend``) computes, from un-rotated queries and keys.

Every key is rotated twice, at its exact position and at its grouped one; every query likewise
(``zhllama.core.rope_scaling.selfextend`` has the positions). A query at ``i`` takes the exact
scores of the keys inside its neighbour window (``i - j < window``) and the grouped scores of the
others, under one softmax. That softmax is computed as two passes over disjoint key sets, each
returning its output and log-sum-exp, merged at the end:

- the **grouped** pass: keys ``j <= i - window``. For a prefill (no cached keys, no padding mask)
  it is one causal attention of the queries from ``window`` on over the keys up to ``T - window``,
  which on CPU runs in PyTorch's flash-attention kernel (``_scaled_dot_product_flash_attention_for_cpu``,
  the kernel behind ``scaled_dot_product_attention``, called directly because it also returns the
  log-sum-exp); otherwise, and on other devices, blocks of query rows with explicit scores;
- the **neighbour** pass: keys ``i - window < j <= i``, a band near the diagonal, in blocks of
  query rows with explicit scores.

No pass holds a T x T score matrix: an explicit block is sized so that its float32 scores stay
within ``SCORE_BLOCK_BYTES`` (``rows x keys``), and the flash kernel works in tiles.

Positions come from the model's ``position_ids`` (its last query's position less its cache index
gives each row's offset), so left-padded rows group their tokens as an unpadded prompt would.
"""

from collections.abc import Callable
from typing import Any

import torch

from zhllama.core.rope_scaling.selfextend import grouped_key_position, grouped_query_position

SCORE_BLOCK_BYTES = 64 * 2**20
"""How much one block of explicit float32 scores may take (batch x heads x rows x keys x 4 bytes)."""
_LOWEST = torch.finfo(torch.float32).min


def repeat_heads(states: torch.Tensor, times: int) -> torch.Tensor:
    """Grouped-query attention: each key/value head serves ``times`` query heads."""
    if times == 1:
        return states
    batch, heads, length, dim = states.shape
    return (
        states[:, :, None].expand(batch, heads, times, length, dim).reshape(batch, heads * times, length, dim)
    )


def key_positions(position_ids: torch.Tensor | None, total: int, batch: int, device: Any) -> torch.Tensor:
    """``(batch, total)`` positions of every cached key: the cache index plus each row's offset."""
    indices = torch.arange(total, device=device)[None].expand(batch, total)
    if position_ids is None:
        return indices
    offset = position_ids[:, -1:].to(device) - (total - 1)
    return indices + offset.expand(batch, 1)


def rotate_at(
    states: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor, scaling: float
) -> torch.Tensor:
    """``states`` ``(batch, heads, seq, head_dim)`` rotated as transformers' Llama rotates them at
    ``positions`` ``(batch, seq)``: the same numbers as ``reference.rope``, with half the cos/sin
    and no concatenation (every key is rotated twice per layer and decode step)."""
    freqs = positions[:, None, :, None].to(torch.float32) * inv_freq.to(positions.device, torch.float32)
    cos, sin = (freqs.cos() * scaling).to(states.dtype), (freqs.sin() * scaling).to(states.dtype)
    half = states.shape[-1] // 2
    first, second = states[..., :half], states[..., half:]
    out = torch.empty_like(states)
    torch.sub(first * cos, second * sin, out=out[..., :half])
    torch.add(second * cos, first * sin, out=out[..., half:])
    return out


Allowed = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``allowed(rows, keys)``: which (query cache index, key cache index) pairs a pass attends."""


def _explicit_pass(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    first_row: int,
    key_range: Callable[[int, int], tuple[int, int]],
    allowed: Allowed,
    scale: float,
    padding: torch.Tensor | None,
    max_rows: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(output, lse)`` of one pass, in blocks of at most ``max_rows`` query rows; row ``r`` is
    cache index ``first_row + r``.

    ``key_range(first, end)`` gives the keys ``[low, high)`` the rows ``[first, end)`` may see;
    ``padding`` is transformers' mask as bool ``(batch, 1, rows, keys)`` (True attends) or None.
    Rows that may see no key get an output of 0 and a log-sum-exp of about ``_LOWEST``.
    """
    batch, heads, q_len, _ = query.shape
    rows = min(q_len, max_rows or q_len)  # halved until the widest block (the last one) fits the budget
    while (
        rows > 1 and batch * heads * rows * _width(key_range, first_row + q_len, rows) * 4 > SCORE_BLOCK_BYTES
    ):
        rows //= 2
    outputs, sums = [], []
    for start in range(0, q_len, rows):
        stop = min(q_len, start + rows)
        low, high = key_range(first_row + start, first_row + stop)
        if high <= low:
            outputs.append(query.new_zeros(batch, heads, stop - start, value.shape[-1]))
            sums.append(torch.full((batch, heads, stop - start), _LOWEST, device=query.device))
            continue
        scores = torch.matmul(query[:, :, start:stop] * scale, key[:, :, low:high].transpose(-1, -2)).float()
        indices = torch.arange(first_row + start, first_row + stop, device=query.device)
        keep = allowed(indices[:, None], torch.arange(low, high, device=query.device)[None])
        if padding is not None:
            keep = keep & padding[:, :, start:stop, low:high]
        scores = scores.masked_fill_(~keep, _LOWEST)
        top = scores.amax(dim=-1, keepdim=True)
        weights = scores.sub_(top).exp_()  # one exp for both the softmax and its log-sum-exp
        norm = weights.sum(dim=-1, keepdim=True)
        sums.append((top + norm.log()).squeeze(-1))
        outputs.append(torch.matmul(weights.div_(norm).to(value.dtype), value[:, :, low:high]))
    return torch.cat(outputs, dim=2), torch.cat(sums, dim=2)


def _width(key_range: Callable[[int, int], tuple[int, int]], end: int, rows: int) -> int:
    low, high = key_range(max(0, end - rows), end)
    return max(1, high - low)


def _flash(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(output, lse)`` in PyTorch's CPU flash kernel: causal (as many queries as keys) without a
    ``bias``, else with that additive mask."""
    output, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, 0.0, bias is None, attn_mask=bias, scale=scale
    )
    return output, lse.float()


def _neighbour_flash_pass(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The neighbour pass of a prefill in the CPU flash kernel, all blocks in two calls.

    The queries are cut into blocks of ``window`` rows; block ``m`` sees keys of blocks ``m - 1``
    and ``m`` only. Block 0 is plain causal attention; every later block attends its two blocks'
    ``2 * window`` keys under one band mask shared by all of them (row ``r`` sees key ``c`` when
    ``r < c <= r + window``), the blocks folded into the batch dimension.
    """
    batch, heads, length, _ = query.shape
    first_output, first_lse = _flash(query[:, :, :window], key[:, :, :window], value[:, :, :window], scale)
    blocks = -(-length // window)
    if blocks == 1:
        return first_output, first_lse
    pad = blocks * window - length

    def windows(states: torch.Tensor, size: int, step: int) -> torch.Tensor:
        padded = torch.nn.functional.pad(states, (0, 0, 0, pad))
        cut = padded.unfold(2, size, step)[:, :, -(blocks - 1) :]  # (batch, heads, blocks - 1, dim, size)
        return cut.permute(0, 2, 1, 4, 3).reshape(batch * (blocks - 1), heads, size, states.shape[-1])

    rows = torch.arange(window, device=query.device)[:, None]
    keys = torch.arange(2 * window, device=query.device)[None]
    bias = torch.zeros(window, 2 * window, dtype=query.dtype, device=query.device)
    bias = bias.masked_fill(~((keys > rows) & (keys <= rows + window)), float("-inf"))
    output, lse = _flash(
        windows(query, window, window),
        windows(key, 2 * window, window),
        windows(value, 2 * window, window),
        scale,
        bias,
    )
    output = output.reshape(batch, blocks - 1, heads, window, -1).permute(0, 2, 1, 3, 4)
    lse = lse.reshape(batch, blocks - 1, heads, window).permute(0, 2, 1, 3)
    output = torch.cat([first_output, output.reshape(batch, heads, -1, output.shape[-1])], dim=2)
    lse = torch.cat([first_lse, lse.reshape(batch, heads, -1)], dim=2)
    return output[:, :, :length], lse[:, :, :length]


def _merge(parts: list[tuple[torch.Tensor, torch.Tensor]], dtype: torch.dtype) -> torch.Tensor:
    """One softmax over the passes' disjoint key sets, from each pass's output and log-sum-exp."""
    top = torch.stack([lse for _, lse in parts]).amax(dim=0)
    weights = [torch.exp(lse - top)[..., None] for _, lse in parts]
    total = sum(weights)
    merged = sum(output.float() * weight for (output, _), weight in zip(parts, weights, strict=True))
    return (merged / total).to(dtype)


def grouped_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    group: int,
    window: int,
    inv_freq: torch.Tensor,
    rope_scaling: float,
    scaling: float,
    position_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Attention output ``(batch, q_len, heads, head_dim)`` of un-rotated ``query`` ``(batch, heads,
    q_len, head_dim)`` over every un-rotated cached ``key``/``value`` ``(batch, kv_heads, total,
    head_dim)``; the queries are the last ``q_len`` cache indices.

    ``attention_mask`` is transformers' 4D mask (bool: True attends; float: 0 attends) or None;
    causality is applied here either way. ``scaling`` is the softmax scale, ``inv_freq`` and
    ``rope_scaling`` the rotary embedding's frequencies and cos/sin factor.
    """
    batch, heads, q_len, _ = query.shape
    total = key.shape[-2]
    past = total - q_len
    positions = key_positions(position_ids, total, batch, query.device)
    q_positions = positions[:, past:]

    def rotated(states: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        return rotate_at(states, where, inv_freq, rope_scaling)

    times = heads // key.shape[1]
    value = repeat_heads(value, times)
    padding = None
    if attention_mask is not None:
        padding = attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0

    exact_query, exact_key = rotated(query, q_positions), repeat_heads(rotated(key, positions), times)
    flash = past == 0 and padding is None and query.device.type == "cpu"
    if flash:
        neighbours = _neighbour_flash_pass(exact_query, exact_key, value, window, scaling)
    else:
        neighbours = _explicit_pass(
            exact_query,
            exact_key,
            value,
            first_row=past,
            key_range=lambda first, end: (max(0, first - window + 1), end),
            allowed=lambda rows, keys: (rows >= keys) & (rows - keys < window),
            scale=scaling,
            padding=padding,
            max_rows=window,  # a block of rows sees rows + window - 1 keys, of which window are used
        )
    if total <= window:  # every key is a neighbour of every query
        return _merge([neighbours], value.dtype).transpose(1, 2)
    grouped_query = rotated(query, grouped_query_position(q_positions, group, window))
    grouped_key = repeat_heads(rotated(key, grouped_key_position(positions, group)), times)
    if flash:
        output = query.new_zeros(batch, heads, q_len, value.shape[-1])
        lse = torch.full((batch, heads, q_len), float("-inf"), device=query.device)
        far = total - window
        output[:, :, window:], lse[:, :, window:] = _flash(
            grouped_query[:, :, window:], grouped_key[:, :, :far], value[:, :, :far], scaling
        )
        grouped = (output, lse)
    else:
        grouped = _explicit_pass(
            grouped_query,
            grouped_key,
            value,
            first_row=past,
            key_range=lambda first, end: (0, max(0, end - window)),
            allowed=lambda rows, keys: rows - keys >= window,
            scale=scaling,
            padding=padding,
        )
    return _merge([neighbours, grouped], value.dtype).transpose(1, 2)
