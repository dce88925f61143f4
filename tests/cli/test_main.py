"""The command line as a user types it: `zhllama chat` and `zhllama doctor`."""

import json

from click.testing import CliRunner

from zhllama.cli import main


def invoke(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_chat_renders_the_alpaca_2_prompt_and_streams_a_chinese_reply(tiny_model_dir):
    question = "续写下面的文字：话说天下大势，分久必合，合久必分。"
    result = invoke("chat", question, "--model", str(tiny_model_dir), "--greedy", "--max-new-tokens", "16")
    assert result.exit_code == 0, result.output
    system = "You are a helpful assistant. 你是一个乐于助人的助手。"
    assert f"[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{question} [/INST]" in result.stderr
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in result.stdout) >= 4


def test_chat_uses_zhllama_model_from_the_environment(tiny_model_dir):
    result = invoke("chat", "你好", "--greedy", "--max-new-tokens", "4", ZHLLAMA_MODEL=str(tiny_model_dir))
    assert result.exit_code == 0
    assert f"loading transformers model {tiny_model_dir}" in result.stderr


def test_chat_without_any_model_says_how_to_point_at_one(tmp_path):
    result = invoke("chat", "你好", ZHLLAMA_MODEL="", ZHLLAMA_ASSETS=str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "no model to answer with: pass --model (a local Chinese-Alpaca-2 folder" in result.output


def test_chat_with_a_hub_id_explains_that_nothing_is_downloaded():
    result = invoke("chat", "你好", "--model", "hfl/chinese-alpaca-2-7b")
    assert result.exit_code == 1
    assert "never downloads models" in result.output
    assert "Traceback" not in result.output


def test_doctor_reports_versions_plugins_adapters_kernels_and_assets(assets):
    result = invoke("doctor", "--json", ZHLLAMA_ASSETS=str(assets))
    report = json.loads(result.stdout)
    assert report["libraries"]["transformers"]
    assert "zhllama.adapters.vllm" in report["plugins"]
    assert "alpaca-2" in report["templates"]
    assert {a["name"] for a in report["adapters"]} >= {"langchain", "vllm"}
    assert all(isinstance(a["importable"], bool) for a in report["adapters"])
    assert isinstance(report["accelerators"]["cuda"], bool)
    assert report["assets"] == str(assets)
    assert report["default_model"].endswith("tiny-zh-llama")
    human = invoke("doctor", ZHLLAMA_ASSETS=str(assets)).stdout
    assert "adapters:" in human and "assets:" in human
