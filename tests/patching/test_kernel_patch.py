"""``zhllama.patching.apply`` patches a Llama model reversibly without changing its logits,
in prefill and in cached decoding, under every RoPE method of the long-context planner."""

import os
import warnings

import pytest
import torch

os.environ.setdefault("TRITON_INTERPRET", "1")  # our Triton kernels run on CPU through the interpreter

import zhllama
from zhllama.core.rope_scaling import RopeReachWarning
from zhllama.errors import KernelError
from zhllama.patching import apply, is_patched, kernel_patch, revert

METHODS = ("linear", "ntk", "auto", "dynamic", "yarn", "dynamic_yarn")
PROMPT_TOKENS = 300  # beyond the tiny model's 256 trained positions, so dynamic bases change
CONTEXT = 1024


def fresh_rope_state(model) -> None:
    """transformers keeps the longest length a dynamic RoPE has seen; each run starts from load."""
    rotary = model.model.rotary_emb
    rotary.inv_freq = rotary.original_inv_freq.clone()
    rotary.max_seq_len_cached = rotary.original_max_seq_len


def prefill_and_decode(model, ids: torch.Tensor, steps: int = 2) -> list[torch.Tensor]:
    from transformers import DynamicCache

    fresh_rope_state(model)
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        logits = [model(ids, cache=cache).logits.float()]
        for step in range(steps):
            logits.append(model(torch.tensor([[100 + step]]), cache=cache).logits.float())
    return logits


def assert_same_logits(got: list[torch.Tensor], want: list[torch.Tensor], dtype: str) -> None:
    for patched, eager in zip(got, want, strict=True):
        if dtype == "float32":
            torch.testing.assert_close(patched, eager, rtol=1e-5, atol=1e-5)
        else:  # bf16 rounds differently (once, in fp32, instead of per step): relative L2 error
            assert ((patched - eager).norm() / eager.norm()).item() <= 1e-2


@pytest.fixture(scope="module")
def prompt() -> torch.Tensor:
    return torch.randint(5, 55000, (1, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))


def load(tiny_model_dir, method: str, dtype: str, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)  # 1024 tokens is past some methods' reach
        model, _ = zhllama.load(tiny_model_dir, context=CONTEXT, rope_method=method, dtype=dtype, **kwargs)
    return model


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_patched_logits_equal_eager_in_prefill_and_cached_decoding(tiny_model_dir, prompt, method, dtype):
    """The CPU path (what ``auto`` picks here) under each RoPE method."""
    check_backend(tiny_model_dir, prompt, method, "inductor", dtype)


@pytest.mark.parametrize(("method", "dtype"), [("dynamic_yarn", "float32"), ("auto", "bfloat16")])
def test_triton_kernels_patch_the_model_just_as_well(tiny_model_dir, prompt, method, dtype):
    """Our Triton kernels (interpreted here; on CUDA in benchmarks/gpu_kernels.sh)."""
    check_backend(tiny_model_dir, prompt, method, "triton", dtype)


def check_backend(tiny_model_dir, prompt, method, backend, dtype):
    model = load(tiny_model_dir, method, dtype)
    eager = prefill_and_decode(model, prompt)
    patch = apply(model, backend=backend)
    assert patch is not None and set(patch.backends.values()) == {backend}
    assert_same_logits(prefill_and_decode(model, prompt), eager, dtype)


def test_revert_restores_the_exact_eager_model(tiny_model_dir, prompt):
    model = load(tiny_model_dir, "auto", "float32")
    eager = prefill_and_decode(model, prompt)
    apply(model, kernel_mode="reference")
    assert is_patched(model)
    assert revert(model) is True
    assert not is_patched(model)
    assert not any("forward" in module.__dict__ for module in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(prefill_and_decode(model, prompt), eager, strict=True))
    assert revert(model) is False


def test_the_reference_mode_patches_with_plain_torch_and_changes_nothing(tiny_model_dir, prompt):
    model = load(tiny_model_dir, "linear", "float32")
    eager = prefill_and_decode(model, prompt)
    patch = apply(model, kernel_mode="reference")
    assert set(patch.backends.values()) == {"reference"}
    assert_same_logits(prefill_and_decode(model, prompt), eager, "float32")


def test_off_mode_leaves_the_model_alone(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("ZHLLAMA_KERNELS", "off")
    model = load(tiny_model_dir, "ntk", "float32", kernels=True)
    assert not is_patched(model)
    assert apply(model) is None


def test_load_with_kernels_patches_for_the_device(tiny_model_dir, monkeypatch):
    monkeypatch.delenv("ZHLLAMA_KERNELS", raising=False)
    model = load(tiny_model_dir, "linear", "float32", kernels=True)
    assert is_patched(model)
    assert kernel_patch(model).device == "cpu"


def test_a_model_that_is_not_llama_is_refused():
    with pytest.raises(KernelError, match="not a transformers Llama model"):
        apply(torch.nn.Linear(4, 4), kernel_mode="reference")


def test_patching_keeps_autograd_working_through_the_references(tiny_model_dir):
    model = load(tiny_model_dir, "linear", "float32")
    apply(model, backend="inductor")
    model.train()
    loss = model(torch.tensor([[5, 6, 7, 8]]), labels=torch.tensor([[5, 6, 7, 8]])).loss
    loss.backward()
    assert model.model.layers[0].mlp.gate_proj.weight.grad is not None
