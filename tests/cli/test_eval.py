"""`zhllama eval ppl`: JSON shape, the table, and one-line errors for bad input."""

import json

import pytest
from click.testing import CliRunner

from zhllama.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["eval", "ppl", *map(str, args)])


@pytest.fixture
def novel(assets):
    return assets / "corpus" / "novel_红楼梦.txt"


def test_json_has_one_row_per_length_and_method_and_the_plans_choice(tiny_model_dir, novel):
    result = _run(
        tiny_model_dir, "--data", novel, "--lengths", "32,300", "--methods", "none,auto",
        "--tail-tokens", "700", "--max-windows", "1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["plan"] == {"32": "none", "300": "auto"}
    assert data["last"] == 31 and data["tail_tokens"] == 700 and data["max_windows_per_file"] == 1
    assert [(row["length"], row["method"]) for row in data["rows"]] == [
        (32, "none"), (32, "auto"), (300, "none"), (300, "auto"),
    ]  # fmt: skip
    row = data["rows"][-1]
    assert set(row) == {
        "length", "method", "rope_parameters", "windows", "predictions", "ppl_all", "ppl_last",
        "seconds", "peak_memory_mib",
    }  # fmt: skip
    assert row["rope_parameters"]["rope_type"] == "zhllama_dynamic_auto"
    assert row["windows"] == 1 and row["predictions"] == 299 and row["ppl_all"] > 1


def test_the_table_marks_the_plans_choice(tiny_model_dir, novel):
    result = _run(tiny_model_dir, "--data", novel, "--lengths", "32", "--methods", "none",
                  "--tail-tokens", "100", "--max-windows", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| 32 | 1 |" in result.stdout and "*" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--methods", "none,ropey"), "unknown evaluation method(s) 'ropey'"),
        (("--lengths", "256,big"), "window length 'big' is not an integer"),
        (("--last", "300", "--lengths", "256"), "the last slice must be 1..255 positions"),
    ],
)
def test_bad_options_are_one_line_errors(tiny_model_dir, novel, args, message):
    result = _run(tiny_model_dir, "--data", novel, *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output


def test_a_missing_or_undecodable_data_file_is_a_clear_error(tiny_model_dir, tmp_path):
    result = _run(tiny_model_dir, "--data", tmp_path / "nope.txt")
    assert result.exit_code == 1 and "nope.txt' does not exist" in result.output
    latin = tmp_path / "latin.txt"
    latin.write_bytes("红楼梦".encode("gb18030"))
    result = _run(tiny_model_dir, "--data", latin)
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output


def test_a_missing_model_folder_is_a_clear_error(tmp_path, novel):
    result = _run(tmp_path / "no-model", "--data", novel)
    assert result.exit_code == 1 and "does not exist" in result.output


def test_a_gguf_is_measured_by_llama_cpp_on_the_same_windows_as_transformers(
    tiny_model_dir, tiny_gguf, novel
):
    """The fidelity check of the whole GGUF path: the f32 export and transformers fp32 agree."""
    common = [
        "--data",
        novel,
        "--lengths",
        "128,300",
        "--methods",
        "none,yarn",
        "--tail-tokens",
        "700",
        "--json",
    ]
    folder = json.loads(_run(tiny_model_dir, *common).stdout)
    result = _run(tiny_gguf, *common, "--threads", "2")
    assert result.exit_code == 0, result.output
    gguf = json.loads(result.stdout)
    assert gguf["dtype"] == "gguf f32" and folder["dtype"] == "float32"
    assert gguf["plan"] == folder["plan"]
    for ours, theirs in zip(gguf["rows"], folder["rows"], strict=True):
        assert (ours["length"], ours["method"], ours["windows"], ours["predictions"]) == (
            theirs["length"], theirs["method"], theirs["windows"], theirs["predictions"],
        )  # fmt: skip
        assert ours["ppl_all"] == pytest.approx(theirs["ppl_all"], rel=0.005)
        assert ours["ppl_last"] == pytest.approx(theirs["ppl_last"], rel=0.005)
    assert gguf["rows"][-1]["rope_parameters"]["rope_scaling_type"] == 2  # llama.cpp's YaRN


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dtype", "bfloat16"), "--dtype and --device apply to a model folder"),
        (("--device", "cuda"), "--dtype and --device apply to a model folder"),
    ],
)
def test_folder_options_with_a_gguf_are_usage_errors(tiny_gguf, novel, args, message):
    result = _run(tiny_gguf, "--data", novel, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_file_that_is_not_a_gguf_is_a_clear_error(tmp_path, novel):
    (tmp_path / "model.gguf").write_text("not a model", encoding="utf-8")
    result = _run(tmp_path / "model.gguf", "--data", novel)
    assert result.exit_code == 1 and "is not a readable GGUF file" in result.output
