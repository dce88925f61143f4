"""`zhllama rope plan/tune` with grouped attention: the options, the file tune writes, one-line errors."""

import json

from click.testing import CliRunner

from zhllama.cli import main
from zhllama.patching import grouped_attention_settings

NOVEL = ("corpus", "novel_红楼梦.txt")


def _run(*args):
    return CliRunner().invoke(main, ["rope", *map(str, args)])


def test_plan_takes_the_rope_method_group_and_window(tiny_model_dir):
    result = _run("plan", tiny_model_dir, "--context", "4096", "--rope-method", "selfextend",
                  "--group", "32", "--window", "128", "--runtime", "transformers", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["method"] == "selfextend" and plan["params"]["group"] == 32
    assert plan["runtimes"]["transformers"]["settings"]["grouped_attention"] == {"group": 32, "window": 128}


def test_a_group_that_breaks_the_validity_rule_is_a_one_line_error_in_option_names(tiny_model_dir):
    result = _run("plan", tiny_model_dir, "--context", "4096", "--rope-method", "selfextend", "--group", "16")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "use --group >= 32" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_method_is_a_one_line_error(tiny_model_dir):
    result = _run("plan", tiny_model_dir, "--context", "4096", "--rope-method", "grouped")
    assert result.exit_code == 1 and "unknown rope scaling method 'grouped'" in result.output


def test_tune_writes_the_winner_with_its_table(tiny_model_dir, assets, tmp_path):
    out = tmp_path / "tune.json"
    result = _run("tune", tiny_model_dir, "--context", "512", "--data", assets.joinpath(*NOVEL),
                  "--methods", "yarn,selfextend:8:128", "--tail-tokens", "600", "--max-windows", "1",
                  "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["winner"] in ("yarn", "selfextend:8:128")
    assert {row["method"] for row in written["rows"]} == {"yarn", "selfextend:8:128"}
    assert set(written["plan"]["runtimes"]) == {"transformers", "vllm", "llamacpp", "webui"}
    assert f"winner (all): {written['winner']}" in result.stdout
    assert " ".join(written["cli"]) in result.stdout


def test_tune_refuses_a_context_within_the_trained_length(tiny_model_dir, assets, tmp_path):
    result = _run("tune", tiny_model_dir, "--context", "256", "--data", assets.joinpath(*NOVEL),
                  "--out", tmp_path / "x.json")  # fmt: skip
    assert result.exit_code == 1 and "there is nothing to tune (load it without a context)" in result.output
    assert not (tmp_path / "x.json").exists()


def test_model_commands_load_grouped_attention_from_the_rope_options(tiny_model_dir, monkeypatch):
    from zhllama.backends import TransformersBackend

    loaded = {}
    original = TransformersBackend.from_pretrained.__func__

    def recording(cls, path, **kwargs):
        backend = original(cls, path, **kwargs)
        loaded["settings"] = grouped_attention_settings(backend.model)
        return backend

    monkeypatch.setattr(TransformersBackend, "from_pretrained", classmethod(recording))
    result = CliRunner().invoke(main, ["chat", "你好", "--model", str(tiny_model_dir), "--context", "1024",
                                       "--rope-method", "selfextend", "--group", "8", "--window", "64",
                                       "--greedy", "--max-new-tokens", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert loaded["settings"] == {"group": 8, "window": 64}


def test_rope_options_with_a_server_are_a_one_line_error():
    result = CliRunner().invoke(main, ["chat", "你好", "--openai-base-url", "http://127.0.0.1:9/v1",
                                       "--tokenizer", ".", "--rope-method", "selfextend"])  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("Error: --rope-method, --group and --window set how zhllama loads")
