"""Every backend of every fused op equals the plain-torch reference (fp32 1e-5, bf16 1e-2),
on random shapes including odd sizes, and the reference equals transformers' eager modules."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # read when kernels are decorated: before the import below

import pytest
import torch
from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb

from zhllama.core.kernels import inductor, reference, triton_ops

BACKENDS = {"triton": triton_ops, "inductor": inductor}
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 1e-2}
SHAPES = [(1, 1, 64), (2, 9, 96), (3, 7, 257)]  # one token, odd token counts, odd hidden size
ROPE_SHAPES = [(1, 4, 4, 1, 16), (2, 8, 2, 7, 32), (3, 6, 3, 13, 64)]  # batch, q_heads, kv_heads, seq, dim


def close(got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype) -> None:
    """``got`` (in ``dtype``) matches the float32 reference within the dtype's tolerance."""
    assert got.dtype == dtype
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(got.float(), want.float(), rtol=tol, atol=tol)


def inputs(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).to(dtype) for _ in range(3)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", TOLERANCE)
@pytest.mark.parametrize("shape", SHAPES)
def test_rms_norm_matches_reference(backend, dtype, shape):
    x, _, _ = inputs(shape, dtype)
    weight = torch.rand(shape[-1], generator=torch.Generator().manual_seed(2)).to(dtype) + 0.5
    want = reference.rms_norm(x.float(), weight.float(), 1e-6)
    close(BACKENDS[backend].rms_norm(x, weight, 1e-6), want, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", TOLERANCE)
@pytest.mark.parametrize("shape", SHAPES)
def test_add_rms_norm_returns_the_normed_sum_and_the_sum(backend, dtype, shape):
    x, residual, _ = inputs(shape, dtype)
    weight = torch.rand(shape[-1], generator=torch.Generator().manual_seed(2)).to(dtype) + 0.5
    summed = (x.float() + residual.float()).to(dtype)
    normed, got_sum = BACKENDS[backend].add_rms_norm(x, residual, weight, 1e-5)
    close(got_sum, summed, dtype)
    close(normed, reference.rms_norm(summed.float(), weight.float(), 1e-5), dtype)


@pytest.mark.parametrize("backend", [*BACKENDS, "reference"])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[-1]])
def test_add_rms_norm_in_place_writes_the_sum_into_x(backend, shape):
    """The patched decoder layer gives up its attention output: no fresh buffer for the sum."""
    module = reference if backend == "reference" else BACKENDS[backend]
    x, residual, _ = inputs(shape, torch.float32)
    weight = torch.rand(shape[-1], generator=torch.Generator().manual_seed(2)) + 0.5
    summed = x + residual
    normed, got_sum = module.add_rms_norm(x, residual, weight, 1e-5, in_place=True)
    assert got_sum.data_ptr() == x.data_ptr()
    close(x, summed, torch.float32)
    close(normed, reference.rms_norm(summed, weight, 1e-5), torch.float32)


def rope_inputs(batch, n_q, n_kv, seq, dim, dtype):
    g = torch.Generator().manual_seed(1)
    # transformers' layout: (batch, heads, seq, dim) views of a (batch, seq, heads, dim) projection
    q = torch.randn(batch, seq, n_q, dim, generator=g).to(dtype).transpose(1, 2)
    k = torch.randn(batch, seq, n_kv, dim, generator=g).to(dtype).transpose(1, 2)
    positions = torch.randint(0, 5000, (batch, seq), generator=g)
    inv_freq = 1.0 / (12345.0 ** (torch.arange(0, dim, 2).float() / dim))
    return q, k, positions, inv_freq


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", TOLERANCE)
@pytest.mark.parametrize("shape", ROPE_SHAPES)
def test_rope_from_positions_and_inv_freq_needs_no_tables(backend, dtype, shape):
    q, k, positions, inv_freq = rope_inputs(*shape, dtype)
    want_q, want_k = reference.rope(q.float(), k.float(), positions=positions, inv_freq=inv_freq, scaling=1.2)
    got_q, got_k = BACKENDS[backend].rope(q, k, positions=positions, inv_freq=inv_freq, scaling=1.2)
    close(got_q, want_q, dtype)
    close(got_k, want_k, dtype)
    if backend == "inductor":  # written in the projection's (batch, seq, heads, dim) order, as read
        assert got_q.transpose(1, 2).is_contiguous() and got_k.transpose(1, 2).is_contiguous()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", TOLERANCE)
def test_rope_also_accepts_cos_sin_tables_shared_across_the_batch(backend, dtype):
    q, k, positions, inv_freq = rope_inputs(2, 4, 2, 9, 32, dtype)
    cos, sin = reference.rope_tables(positions[:1], inv_freq, 1.0, torch.float32)
    want_q, want_k = reference.rope(q.float(), k.float(), cos=cos, sin=sin)
    got_q, got_k = BACKENDS[backend].rope(q, k, cos=cos.to(dtype), sin=sin.to(dtype))
    close(got_q, want_q, dtype)
    close(got_k, want_k, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", TOLERANCE)
@pytest.mark.parametrize("shape", [(1, 1, 7), (3, 1001), (2, 9, 688)])
def test_swiglu_matches_reference_and_can_write_into_the_gate(backend, dtype, shape):
    gate, up, _ = inputs(shape, dtype)
    want = reference.swiglu(gate.float(), up.float())
    close(BACKENDS[backend].swiglu(gate, up), want, dtype)
    buffer = gate.clone()
    result = BACKENDS[backend].swiglu(buffer, up, out=buffer)
    assert result.data_ptr() == buffer.data_ptr()
    close(buffer, want, dtype)


def test_reference_rms_norm_is_transformers_llama_rms_norm():
    module = LlamaRMSNorm(96, eps=1e-6)
    module.weight.data = torch.rand(96, generator=torch.Generator().manual_seed(3)) + 0.5
    x = torch.randn(2, 5, 96, generator=torch.Generator().manual_seed(4))
    assert torch.equal(reference.rms_norm(x, module.weight, 1e-6), module(x).detach())


def test_reference_rope_is_transformers_apply_rotary_pos_emb():
    q, k, positions, inv_freq = rope_inputs(2, 4, 2, 9, 32, torch.float32)
    cos, sin = reference.rope_tables(positions, inv_freq, 1.0, torch.float32)
    want = apply_rotary_pos_emb(q, k, cos, sin)
    got = reference.rope(q, k, positions=positions, inv_freq=inv_freq)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("module", [reference, inductor], ids=["reference", "inductor"])
def test_rope_without_positions_or_tables_is_refused(module):
    q, k, _, _ = rope_inputs(1, 2, 2, 3, 16, torch.float32)
    with pytest.raises(ValueError, match="positions and inv_freq"):
        module.rope(q, k)


def test_below_small_rows_the_cpu_path_runs_the_op_eagerly_not_a_compiled_graph():
    """One decode step: a compiled call's fixed overhead exceeds what fusing saves (docs/kernels.md)."""
    x = torch.randn(1, inductor.SMALL_ROWS - 1, 64, generator=torch.Generator().manual_seed(5))
    weight = torch.ones(64)
    inductor.compiled.cache_clear()
    assert torch.equal(inductor.rms_norm(x, weight, 1e-6), reference.rms_norm(x, weight, 1e-6))
    assert inductor.compiled.cache_info().currsize == 0, "nothing was compiled for a small input"
