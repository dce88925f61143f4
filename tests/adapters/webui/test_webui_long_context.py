"""Long context: the wrapped Transformers loader gives the model zhllama.load(path, context=N) builds
with the method planned for webui (no grouped attention there)."""

import shutil

import pytest
import torch

from zhllama.adapters.webui import loading, long_context
from zhllama.errors import RopeScalingError


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    """What webui's Transformers loader returns for the tiny model, and zhllama's own long-context load."""
    from transformers import AutoModelForCausalLM

    from zhllama import load

    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    reference, _ = load(tiny_model_dir, context=1024, rope_method="dynamic_yarn")  # webui's plan at 4x
    return plain, reference


def wrapped(model, folder, **params):
    applied = []
    loader = loading.wrap_loader(
        lambda name: model, lambda name: folder, params, lambda prepared: applied.append(prepared.applied)
    )
    return loader, applied


def test_the_wrapped_loader_scales_rope_as_zhllama_load_does(loaded, tiny_model_dir):
    plain, reference = loaded
    loader, applied = wrapped(plain, tiny_model_dir, long_context=True, target_context=1024)
    model, _ = loader("tiny-zh-llama")
    assert model.config.rope_parameters == reference.config.rope_parameters
    assert model.model.rotary_emb.rope_type == reference.model.rotary_emb.rope_type
    ids = torch.arange(3, 603).unsqueeze(0)  # past the trained 256 tokens: the scaling is in effect
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, reference(ids).logits)
    assert applied[0].method == "dynamic_yarn" and (applied[0].trained_length, applied[0].target_context) == (
        256,
        1024,
    )


def test_with_long_context_off_or_within_the_trained_length_the_model_is_untouched(loaded, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    rotary = model.model.rotary_emb
    for params in (
        {"long_context": False, "target_context": 1024},
        {"long_context": True, "target_context": 256},
    ):
        loader, applied = wrapped(model, tiny_model_dir, **params)
        assert loader("m")[0] is model and model.model.rotary_emb is rotary and applied == [None]


def test_a_gguf_folder_has_no_plan(tmp_path):
    assert long_context.rope_plan_for_folder(tmp_path, 16384) is None


def test_a_model_the_plan_does_not_fit_loads_unscaled_with_an_error_logged(tmp_path, tiny_model_dir, caplog):
    shutil.copy(tiny_model_dir / "config.json", tmp_path / "config.json")
    loader, applied = wrapped(object(), tmp_path, long_context=True, target_context=1024)
    loader("not-llama")
    assert applied == [None] and "long-context mode not applied" in caplog.text
    with pytest.raises(RopeScalingError, match="no shared rotary embedding"):
        long_context.apply_rope_plan(object(), long_context.rope_plan_for_folder(tmp_path, 1024))


def test_the_loader_patch_installs_once_and_uninstalls(webui):
    original = webui.models.transformers_loader
    params = {"long_context": False}
    assert loading.install_loader_patch(webui.models, lambda n: n, params, lambda a: None)
    assert loading.install_loader_patch(webui.models, lambda n: n, params, lambda a: None)
    assert webui.models.transformers_loader.__zhllama_original__ is original
    loading.uninstall_loader_patch(webui.models)
    assert webui.models.transformers_loader is original


def test_state_modifier_raises_webuis_truncation_length_to_the_target_once_scaled(ext):
    plan = long_context.AppliedPlan("auto", {}, trained_length=4096, target_context=16384)
    ext._record(loading.Prepared(applied=plan))
    assert ext.state_modifier({"truncation_length": 4096})["truncation_length"] == 16384
    assert ext.state_modifier({"truncation_length": 2048})["truncation_length"] == 2048  # the user's
