"""Each RoPE scaling method computes what its reference computes: transformers' own
``ROPE_INIT_FUNCTIONS`` for linear, dynamic and yarn, and the upstream adaptive-NTK formula
(written out independently below) for auto."""

import math

import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from zhllama.core.rope_scaling import RopeMethod, RopeScalingError, get_method, inv_freq, methods

HEAD_DIM = 128
BASE = 10000.0
LENGTHS = (1024, 4096, 8192, 16384, 32768, 65536)


def _hf(rope_parameters: dict, max_position_embeddings: int, seq_len: int | None):
    config = LlamaConfig(
        hidden_size=HEAD_DIM * 4,
        num_attention_heads=4,
        head_dim=HEAD_DIM,
        max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_theta": BASE, **rope_parameters},
    )
    return ROPE_INIT_FUNCTIONS[rope_parameters["rope_type"]](config, None, seq_len=seq_len)


def _ours(method: str, params: dict, max_position_embeddings: int, seq_len: int | None):
    return inv_freq(
        method,
        params,
        head_dim=HEAD_DIM,
        base=BASE,
        max_position_embeddings=max_position_embeddings,
        seq_len=seq_len,
    )


def _assert_same(ours, theirs):
    (ours_freq, ours_scale), (their_freq, their_scale) = ours, theirs
    torch.testing.assert_close(ours_freq, their_freq, rtol=1e-6, atol=0)
    assert ours_scale == pytest.approx(their_scale, rel=1e-6)
    positions = torch.arange(0, 65536, 97, dtype=torch.float)[:, None]
    for fn in (torch.cos, torch.sin):
        torch.testing.assert_close(
            fn(positions * ours_freq) * ours_scale,
            fn(positions * their_freq) * their_scale,
            rtol=1e-6,
            atol=1e-6,
        )


def test_the_six_builtin_methods_are_registered_through_the_plugin_hook():
    registered = methods()
    assert {"linear", "ntk", "auto", "dynamic", "yarn", "dynamic_yarn"} <= set(registered)
    assert all(isinstance(method, RopeMethod) for method in registered.values())
    assert registered["auto"].depends_on_seq_len and registered["dynamic_yarn"].depends_on_seq_len
    assert not registered["linear"].depends_on_seq_len and not registered["yarn"].depends_on_seq_len


@pytest.mark.parametrize("factor", [2.0, 4.0, 16.0])
@pytest.mark.parametrize("seq_len", LENGTHS)
def test_linear_equals_transformers(factor, seq_len):
    _assert_same(
        _ours("linear", {"factor": factor}, 4096, seq_len),
        _hf({"rope_type": "linear", "factor": factor}, 4096, seq_len),
    )


@pytest.mark.parametrize("factor", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("seq_len", [None, *LENGTHS])
def test_dynamic_equals_transformers(factor, seq_len):
    _assert_same(
        _ours("dynamic", {"factor": factor}, 4096, seq_len),
        _hf({"rope_type": "dynamic", "factor": factor}, 4096, seq_len),
    )


@pytest.mark.parametrize(("factor", "original"), [(16.0, 4096), (4.0, 4096), (2.0, 2048), (1.5, 256)])
@pytest.mark.parametrize("seq_len", [4096, 65536])
def test_yarn_equals_transformers(factor, original, seq_len):
    params = {"factor": factor, "original_max_position_embeddings": original}
    _assert_same(
        _ours("yarn", params, int(original * factor), seq_len),
        _hf({"rope_type": "yarn", **params}, int(original * factor), seq_len),
    )


def test_yarn_attention_scaling_is_the_papers_mscale():
    _, scaling = _ours("yarn", {"factor": 16.0, "original_max_position_embeddings": 4096}, 65536, None)
    assert scaling == pytest.approx(0.1 * math.log(16.0) + 1)


def upstream_auto_inv_freq(seq_len: int, max_position_embeddings: int, scaling_factor: float) -> torch.Tensor:
    """The upstream patch's ``adaptive_ntk_forward`` (alpha='auto', AUTO_COEFF=1) as inv_freq.

    Upstream divides positions by ``scaling_factor``; the returned frequencies fold that in.
    """
    base = BASE
    if seq_len > max_position_embeddings:
        alpha = seq_len / (max_position_embeddings / 2) - 1
        base = BASE * alpha ** (HEAD_DIM / (HEAD_DIM - 2))
    return 1.0 / (base ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM)) / scaling_factor


@pytest.mark.parametrize("seq_len", [4096, 6000, 8192, 16384, 24576, 32768, 65536])
@pytest.mark.parametrize(
    ("max_position_embeddings", "pi_factor"), [(4096, 1.0), (16384, 4.0)], ids=["4K", "16K-PI"]
)
def test_auto_equals_the_upstream_adaptive_ntk_formula(seq_len, max_position_embeddings, pi_factor):
    freq, scaling = _ours("auto", {"factor": pi_factor}, max_position_embeddings, seq_len)
    torch.testing.assert_close(
        freq, upstream_auto_inv_freq(seq_len, max_position_embeddings, pi_factor), rtol=1e-6, atol=0
    )
    assert scaling == 1.0


@pytest.mark.parametrize("seq_len", [4096, 8192, 32768])
def test_auto_without_pi_is_transformers_dynamic_with_factor_2(seq_len):
    _assert_same(
        _ours("auto", {}, 4096, seq_len), _hf({"rope_type": "dynamic", "factor": 2.0}, 4096, seq_len)
    )


def test_ntk_raises_the_base_by_alpha_to_the_d_over_d_minus_2():
    freq, _ = _ours("ntk", {"alpha": 4.0}, 4096, None)
    expected_base = BASE * 4.0 ** (HEAD_DIM / (HEAD_DIM - 2))
    torch.testing.assert_close(
        freq[1], torch.tensor(1.0 / expected_base ** (2 / HEAD_DIM)), rtol=1e-6, atol=0
    )


def test_dynamic_yarn_leaves_short_prompts_untouched_and_grows_with_the_length():
    plain, plain_scale = _ours("linear", {"factor": 1.0}, 4096, None)
    short, short_scale = _ours("dynamic_yarn", {}, 4096, 3000)
    torch.testing.assert_close(short, plain)
    assert short_scale == plain_scale == 1.0
    for n in (8192, 32768):
        grown = _ours("dynamic_yarn", {"original_max_position_embeddings": 4096}, 4096, n)
        static = _ours("yarn", {"factor": n / 4096, "original_max_position_embeddings": 4096}, 4096, None)
        _assert_same(grown, static)


def test_dynamic_yarn_on_a_yarn_checkpoint_keeps_its_fine_tuned_factor_up_to_the_trained_length():
    params = {"original_max_position_embeddings": 4096, "min_factor": 16.0}
    at_8k = _ours("dynamic_yarn", params, 65536, 8192)
    fine_tuned = _ours("yarn", {"factor": 16.0, "original_max_position_embeddings": 4096}, 65536, None)
    _assert_same(at_8k, fine_tuned)


def test_an_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(
        RopeScalingError, match=r"unknown rope scaling method 'ntk2'.*auto, dynamic, dynamic_yarn"
    ):
        get_method("ntk2")


@pytest.mark.parametrize(("method", "params"), [("linear", {"factor": 0.5}), ("ntk", {"alpha": 0.9})])
def test_a_factor_below_1_is_refused(method, params):
    with pytest.raises(RopeScalingError, match=r"must be a number >= 1"):
        _ours(method, params, 4096, None)


def test_missing_and_unknown_parameters_are_refused_with_what_to_pass():
    with pytest.raises(RopeScalingError, match=r"'linear' needs factor"):
        _ours("linear", {}, 4096, None)
    with pytest.raises(RopeScalingError, match=r"no parameter\(s\) alpha: it takes factor"):
        _ours("linear", {"factor": 2.0, "alpha": 2.0}, 4096, None)
