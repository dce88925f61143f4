"""Grouped attention (``selfextend``) in transformers: the attention equals a dense reference, a
cached generation equals a full recompute, padding does not move the groups, bad use is refused."""

import warnings

import pytest
import torch
from transformers import DynamicCache

import zhllama
import zhllama.patching.grouped_attention as grouped_module
from zhllama.core.kernels import reference
from zhllama.core.rope_scaling import RopeScalingError, inv_freq
from zhllama.patching import (
    grouped_attention_settings,
    kv_cache_mode,
    set_grouped_attention,
    set_kv_cache_mode,
    store_kv_before_rope,
)
from zhllama.patching.grouped_attention import grouped_attention

INV_FREQ, _ = inv_freq(
    "linear", {"factor": 1.0}, head_dim=32, base=10000.0, max_position_embeddings=256, seq_len=None
)
SCALE = 32**-0.5
CONTEXT, GROUP, WINDOW = 1024, 8, 32  # (1023 // 8) + 32 - 4 = 155 < 256: valid for the tiny model


def dense_reference(query, key, value, group, window, past=0):
    """SelfExtend as its reference implementation (LongLM) writes it: two full score matrices,
    exact where ``i - j < window``, grouped elsewhere, one causal softmax."""
    total = key.shape[-2]
    positions = torch.arange(total)
    q_positions = positions[past:]

    def rotated(states, where):
        cos, sin = reference.rope_tables(where[None], INV_FREQ, 1.0, states.dtype)
        return reference.rotate(states, cos, sin)

    times = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(times, 1), value.repeat_interleave(times, 1)
    exact = rotated(query, q_positions) @ rotated(key, positions).transpose(-1, -2)
    grouped_query = rotated(query, q_positions // group + window - window // group)
    grouped = grouped_query @ rotated(key, positions // group).transpose(-1, -2)
    distance = q_positions[:, None] - positions[None]
    scores = torch.where(distance < window, exact, grouped) * SCALE
    scores = scores.masked_fill(distance < 0, float("-inf"))
    return (scores.softmax(-1) @ value).transpose(1, 2)


def _random(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("length", "kv_heads", "group", "window"),
    [(300, 4, 8, 20), (301, 2, 8, 20), (30, 4, 4, 20), (41, 2, 3, 20), (257, 4, 64, 128), (16, 4, 2, 32)],
)
@pytest.mark.parametrize("budget", [grouped_module.SCORE_BLOCK_BYTES, 2 * 4 * 37 * 64 * 4])
def test_the_attention_equals_the_dense_reference(monkeypatch, length, kv_heads, group, window, budget):
    """Prefill (flash passes), a decode step and a chunk after a cache, a mask (explicit passes),
    grouped-query heads, lengths that are and are not multiples of the window, small blocks."""
    monkeypatch.setattr(grouped_module, "SCORE_BLOCK_BYTES", budget)
    query, key, value = (
        _random(2, 4, length, 32, seed=1),
        _random(2, kv_heads, length, 32, seed=2),
        _random(2, kv_heads, length, 32, seed=3),
    )
    settings = {"group": group, "window": window, "inv_freq": INV_FREQ, "rope_scaling": 1.0, "scaling": SCALE}
    expected = dense_reference(query, key, value, group, window)
    torch.testing.assert_close(
        grouped_attention(query, key, value, **settings), expected, rtol=1e-5, atol=1e-5
    )
    causal = torch.ones(2, 1, length, length, dtype=torch.bool).tril()
    got = grouped_attention(query, key, value, attention_mask=causal, **settings)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for new in (1, min(5, length)):
        got = grouped_attention(query[:, :, -new:], key, value, **settings)
        want = dense_reference(query[:, :, -new:], key, value, group, window, past=length - new)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_an_explicit_block_stays_within_its_score_budget(monkeypatch):
    """No pass computes a T x T score matrix: with a tiny budget every explicit block is one row
    of scores at most as wide as the keys."""
    widths = []
    original = torch.matmul

    def recording(left, right):
        out = original(left, right)
        if right.shape[-1] > 32:  # a scores matmul: (rows x head_dim) @ (head_dim x keys)
            widths.append(out.shape[-2] * out.shape[-1])
        return out

    monkeypatch.setattr(grouped_module, "SCORE_BLOCK_BYTES", 1)
    monkeypatch.setattr(grouped_module.torch, "matmul", recording)
    query, key, value = _random(1, 2, 400, 32), _random(1, 2, 400, 32, seed=1), _random(1, 2, 400, 32, seed=2)
    causal = torch.ones(1, 1, 400, 400, dtype=torch.bool).tril()
    grouped_attention(
        query,
        key,
        value,
        group=8,
        window=20,
        inv_freq=INV_FREQ,
        rope_scaling=1.0,
        scaling=SCALE,
        attention_mask=causal,
    )
    assert widths and max(widths) <= 400


def _load(tiny_model_dir, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, tokenizer = zhllama.load(
            tiny_model_dir,
            context=CONTEXT,
            rope_method="selfextend",
            rope_params={"group": GROUP, "window": WINDOW},
            **kwargs,
        )
    return model, tokenizer


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return _load(tiny_model_dir)[0]


def test_load_switches_it_on_with_the_planned_parameters(model):
    assert grouped_attention_settings(model) == {"group": GROUP, "window": WINDOW}
    assert kv_cache_mode(model) == "before_rope"
    assert model.config.rope_parameters["rope_type"] == "default"
    assert model.config.max_position_embeddings == CONTEXT


def test_cached_prefill_and_decode_equal_a_full_forward(model):
    ids = torch.randint(3, 32000, (1, 400), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        full = model(ids).logits[0, 300:]
        cache = DynamicCache(config=model.config)
        steps = [model(ids[:, :300], cache=cache, logits_to_keep=1).logits[0]]
        steps += [model(ids[:, n : n + 1], cache=cache).logits[0] for n in range(300, 340)]
        steps.append(model(ids[:, 340:], cache=cache).logits[0])  # a chunk after the cache
    torch.testing.assert_close(torch.cat(steps)[1:], full, rtol=1e-4, atol=1e-4)


def test_greedy_generation_with_the_cache_equals_full_recompute(model):
    prompt = torch.randint(3, 32000, (1, 300), generator=torch.Generator().manual_seed(11))
    settings = {"max_new_tokens": 12, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        cached = model.generate(prompt, **settings)
        recomputed = model.generate(prompt, use_cache=False, **settings)
    assert cached[0, 300:].tolist() == recomputed[0, 300:].tolist()
    # the tokens are what the grouped attention predicts, not what plain RoPE would
    set_grouped_attention(model, None)
    try:
        with torch.no_grad():
            plain = model.generate(prompt, **settings)
    finally:
        set_grouped_attention(model, group=GROUP, window=WINDOW)
    assert plain[0, 300:].tolist() != cached[0, 300:].tolist()


def test_left_padding_groups_each_row_as_its_own_prompt(model):
    long = torch.randint(3, 32000, (1, 420), generator=torch.Generator().manual_seed(2))
    short = long[:, 37:]
    batch = torch.cat([long, torch.cat([torch.zeros(1, 37, dtype=torch.long), short], dim=1)])
    mask = torch.ones_like(batch)
    mask[1, :37] = 0
    settings = {"max_new_tokens": 8, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        together = model.generate(batch, attention_mask=mask, **settings)
        alone = model.generate(short, **settings)
    assert together[1, 420:].tolist() == alone[0, 383:].tolist()


def test_bad_use_is_refused_with_what_to_do(tiny_model_dir, model):
    with pytest.raises(RopeScalingError, match=r"`group` must be a whole number >= 2"):
        set_grouped_attention(model, group=1, window=WINDOW)
    with pytest.raises(RopeScalingError, match=r"`window` must be a whole number >= 1"):
        set_grouped_attention(model, group=GROUP, window=None)
    with pytest.raises(
        RopeScalingError, match=r"needs the cache to hold keys before RoPE: switch it off first"
    ):
        set_kv_cache_mode(model, "default")
    assert kv_cache_mode(model) == "before_rope"
    with store_kv_before_rope(model):
        pass
    set_grouped_attention(model, None)
    assert kv_cache_mode(model) == "default", "the block restored the mode it found, not before_rope"
    set_grouped_attention(model, group=GROUP, window=WINDOW)
    model.config.attention_dropout = 0.1
    model.model.layers[0].self_attn.attention_dropout = 0.1
    model.train()
    try:
        with pytest.raises(RopeScalingError, match="has no attention dropout"):
            model(torch.tensor([[1, 2, 3]]))
    finally:
        model.eval()
        model.model.layers[0].self_attn.attention_dropout = 0.0
        model.config.attention_dropout = 0.0
    eager, _ = _load(tiny_model_dir)
    eager.config._attn_implementation = "flash_attention_2"
    set_grouped_attention(eager, None)
    with pytest.raises(RopeScalingError, match=r"grouped attention \(selfextend\) supports eager and sdpa"):
        set_grouped_attention(eager, group=GROUP, window=WINDOW)
