"""``zhllama.load(path, context=N, rope_method=M)``: the tiny model (trained at 256 tokens) runs
prefill and generation at 1x-16x its trained length with each method, and a 64K-style YaRN
checkpoint loads without remote code with the remote code's logits."""

import json
import math
import os

import pytest
import torch

import zhllama
from zhllama.core.rope_scaling import RopeReachWarning, RopeScalingError

TRAINED = 256


def _ids(n: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(n)
    return torch.randint(3, 32000, (1, n), generator=generator)


def _linked_checkpoint(tmp_path, tiny_model_dir, **config_changes):
    """A folder that links the tiny model's files and carries an edited config.json."""
    for item in tiny_model_dir.iterdir():
        if item.name != "config.json":
            os.symlink(item, tmp_path / item.name)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config.pop("rope_parameters")
    config.update(config_changes)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(
    ("method", "lengths"),
    [
        ("auto", (TRAINED, 4 * TRAINED, 16 * TRAINED)),
        ("ntk", (TRAINED, 4 * TRAINED, 16 * TRAINED)),
        ("dynamic", (TRAINED, 16 * TRAINED)),
        ("linear", (2 * TRAINED, 16 * TRAINED)),
        ("yarn", (2 * TRAINED, 16 * TRAINED)),
        ("dynamic_yarn", (TRAINED, 16 * TRAINED)),
    ],
)
def test_the_tiny_model_prefills_and_generates_at_long_context(tiny_model_dir, method, lengths):
    for context in lengths:
        with pytest.warns() if context > 4 * TRAINED else _no_warning():
            model, _ = zhllama.load(tiny_model_dir, context=context, rope_method=method)
        prompt = _ids(context - 4)
        with torch.no_grad():
            out = model.generate(prompt, max_new_tokens=4, do_sample=False, pad_token_id=0)
        assert out.shape == (1, context)
        assert torch.isfinite(model(out[:, -8:]).logits).all()


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_auto_with_transformers_matches_the_upstream_patch_at_prefill(tiny_model_dir):
    model, _ = zhllama.load(tiny_model_dir, context=4 * TRAINED, rope_method="auto")
    assert model.config.rope_parameters["rope_type"] == "zhllama_dynamic_auto"
    prompt = _ids(3 * TRAINED)
    with torch.no_grad():
        ours = model(prompt).logits
        n, d = prompt.shape[1], model.config.head_dim
        alpha = n / (TRAINED / 2) - 1
        base = 10000.0 * alpha ** (d / (d - 2))
        inv_freq = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
        model.model.rotary_emb = _TableRotary(inv_freq, 1.0, n)
        reference = model(prompt).logits
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


class _TableRotary(torch.nn.Module):
    """Remote-code style rotary embedding: cos/sin tables built once, then indexed by position."""

    def __init__(self, inv_freq: torch.Tensor, mscale: float, length: int):
        super().__init__()
        t = torch.arange(length, dtype=torch.float32)
        freqs = torch.einsum("i,j->ij", t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos() * mscale, persistent=False)
        self.register_buffer("sin_cached", emb.sin() * mscale, persistent=False)

    def forward(self, x, position_ids):
        return self.cos_cached[position_ids].to(x.dtype), self.sin_cached[position_ids].to(x.dtype)


def remote_yarn_rotary(dim, base, scale, original, length, beta_fast=32, beta_slow=1):
    """The YaRN remote code's LlamaYaRNScaledRotaryEmbedding, written out independently."""

    def correction_dim(rotations):
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    mask = 1 - ramp
    inv_freq = (1.0 / (scale * pos_freqs)) * (1 - mask) + (1.0 / pos_freqs) * mask
    mscale = 0.1 * math.log(scale) + 1.0 if scale > 1 else 1.0
    return _TableRotary(inv_freq, mscale, length)


def test_a_64k_style_yarn_checkpoint_loads_without_remote_code_with_the_remote_codes_logits(
    tmp_path, tiny_model_dir
):
    folder = _linked_checkpoint(
        tmp_path,
        tiny_model_dir,
        max_position_embeddings=16 * TRAINED,
        rope_scaling={
            "type": "yarn",
            "factor": 16.0,
            "original_max_position_embeddings": TRAINED,
            "finetuned": True,
        },
        auto_map={"AutoModelForCausalLM": "modeling_llama_yarn.LlamaForCausalLM"},
    )
    model, _ = zhllama.load(folder)
    assert model.config.rope_parameters["rope_type"] == "yarn"
    assert type(model).__module__.startswith("transformers.models.llama")
    prompt = _ids(2 * TRAINED)
    with torch.no_grad():
        native = model(prompt).logits
        model.model.rotary_emb = remote_yarn_rotary(
            model.config.head_dim, 10000.0, 16.0, TRAINED, 16 * TRAINED
        )
        remote = model(prompt).logits
    torch.testing.assert_close(native, remote, rtol=1e-5, atol=1e-5)


def test_a_16k_style_pi_checkpoint_runs_pi_plus_auto_beyond_its_length(tmp_path, tiny_model_dir):
    folder = _linked_checkpoint(
        tmp_path,
        tiny_model_dir,
        max_position_embeddings=4 * TRAINED,
        rope_scaling={"type": "linear", "factor": 4.0},
    )
    model, _ = zhllama.load(folder, context=8 * TRAINED)
    assert model.config.rope_parameters["rope_type"] == "zhllama_dynamic_auto"
    assert model.config.rope_parameters["factor"] == 4.0
    with torch.no_grad():
        out = model.generate(_ids(6 * TRAINED), max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape[1] == 6 * TRAINED + 3


def test_bad_rope_requests_are_refused_before_the_model_is_built(tiny_model_dir):
    with pytest.raises(RopeScalingError, match="below the checkpoint's trained length"):
        zhllama.load(tiny_model_dir, context=100, rope_method="yarn")
    with pytest.raises(RopeScalingError, match="unknown rope scaling method"):
        zhllama.load(tiny_model_dir, context=512, rope_method="nope")


def test_a_target_beyond_reach_loads_with_a_warning(tiny_model_dir):
    with pytest.warns(RopeReachWarning, match="beyond what 'auto'"):
        zhllama.load(tiny_model_dir, context=8 * TRAINED, rope_method="auto")
