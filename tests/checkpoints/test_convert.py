"""`zhllama convert`: a pickled checkpoint becomes safetensors that compute the same logits, without
any pickled code running; bad input is refused with what to do."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from zhllama.checkpoints.convert import convert_checkpoint
from zhllama.checkpoints.model_loader import check_model_folder
from zhllama.cli import main
from zhllama.errors import ModelLoadError

MODEL_FILES = ("config.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(scope="module")
def original_weights(tiny_model_dir):
    return load_file(tiny_model_dir / "model.safetensors")


@pytest.fixture
def pickled_checkpoint(tmp_path, tiny_model_dir, original_weights):
    """The tiny model as the family published its checkpoints: two pytorch_model-*.bin shards and
    their index, plus a training_args.bin pickle that loading never needs."""
    folder = tmp_path / "pickled"
    folder.mkdir()
    names = sorted(original_weights)
    weight_map = {}
    for number, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), 1):
        shard = f"pytorch_model-{number:05d}-of-00002.bin"
        torch.save({name: original_weights[name] for name in part}, folder / shard)
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    torch.save({"learning_rate": 1e-4}, folder / "training_args.bin")
    for name in MODEL_FILES:
        shutil.copyfile(tiny_model_dir / name, folder / name)
    return folder


def test_the_converted_weights_are_the_originals_tensor_for_tensor(
    pickled_checkpoint, tmp_path, original_weights
):
    done = convert_checkpoint(pickled_checkpoint, tmp_path / "out")
    assert done.shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert done.tensors == len(original_weights) and done.skipped == ["training_args.bin"]
    converted = {}
    for shard in done.shards:
        converted.update(load_file(tmp_path / "out" / shard))
    assert converted.keys() == original_weights.keys()
    for name, tensor in original_weights.items():
        assert converted[name].dtype == tensor.dtype and torch.equal(converted[name], tensor), name
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(original_weights)
    assert index["metadata"]["total_size"] == done.bytes
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {*MODEL_FILES, "model.safetensors.index.json"}
    assert not (tmp_path / "out" / "training_args.bin").exists()


def test_the_converted_model_computes_the_pickled_models_logits(pickled_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM

    import zhllama

    convert_checkpoint(pickled_checkpoint, tmp_path / "out")
    pickled = AutoModelForCausalLM.from_pretrained(
        pickled_checkpoint, dtype=torch.float32, use_safetensors=False
    )
    converted, tokenizer = zhllama.load(tmp_path / "out")
    ids = torch.tensor([tokenizer("话说天下大势，分久必合，合久必分。")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(pickled(ids).logits, converted(ids).logits)


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "the-pickle-ran"

    class RunsCode:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    folder = tmp_path / "hostile"
    folder.mkdir()
    torch.save(
        {"model.embed_tokens.weight": torch.zeros(2, 2), "payload": RunsCode()}, folder / "pytorch_model.bin"
    )
    with pytest.raises(
        ModelLoadError, match=r"asks to run code when loaded \(it calls exec\): refused, nothing was run"
    ):
        convert_checkpoint(folder, tmp_path / "out")
    assert not marker.exists()
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_a_checkpoint_in_torchs_old_format_is_read_whole(tmp_path):
    folder = tmp_path / "legacy"
    folder.mkdir()
    weights = {"w": torch.arange(6, dtype=torch.float16).reshape(2, 3)}
    torch.save(weights, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    done = convert_checkpoint(folder, tmp_path / "out")
    assert done.shards == ["model.safetensors"]
    assert torch.equal(load_file(tmp_path / "out" / "model.safetensors")["w"], weights["w"])


def test_a_sentence_transformers_folder_converts_with_its_modules(tmp_path):
    """`--embeddings` points users at `zhllama convert`: the module folders come along."""
    folder = tmp_path / "encoder"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(
        json.dumps([{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}])
    )
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    torch.save({"embeddings.word_embeddings.weight": torch.ones(4, 2)}, folder / "pytorch_model.bin")
    convert_checkpoint(folder, tmp_path / "out")
    assert (tmp_path / "out" / "1_Pooling" / "config.json").is_file()
    assert (tmp_path / "out" / "modules.json").is_file() and (
        tmp_path / "out" / "model.safetensors"
    ).is_file()


def test_the_load_error_for_pickled_weights_names_the_convert_command(pickled_checkpoint):
    with pytest.raises(ModelLoadError, match=r"`zhllama convert .*pickled .*pickled-safetensors`"):
        check_model_folder(pickled_checkpoint)


def test_the_command_converts_and_lists_what_it_left_behind(pickled_checkpoint, tmp_path):
    result = CliRunner().invoke(main, ["convert", str(pickled_checkpoint), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "38 tensors" in result.output and "training_args.bin" in result.output
    check_model_folder(tmp_path / "out")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "holds no pytorch_model*.bin weights to convert"),
        ("safetensors", "already holds *.safetensors weights"),
        ("missing shard", "lists pytorch_model-00002-of-00002.bin"),
        ("out exists", "OUT_DIR '"),
    ],
)
def test_bad_input_is_a_one_line_error(pickled_checkpoint, tmp_path, tiny_model_dir, setup, message):
    source, out = pickled_checkpoint, tmp_path / "out"
    if setup == "empty":
        source = tmp_path / "empty"
        source.mkdir()
    elif setup == "safetensors":
        source = tiny_model_dir
    elif setup == "missing shard":
        (source / "pytorch_model-00002-of-00002.bin").unlink()
    else:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["convert", str(source), str(out)])
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    assert message in result.output
    if setup == "out exists":
        assert (out / "keep.txt").read_text() == "mine"
