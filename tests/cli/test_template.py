"""`zhllama template list|render|export`."""

import json

from click.testing import CliRunner

from zhllama.cli.template import group
from zhllama.core.templates import get_template


def run(*args):
    return CliRunner().invoke(group, list(args))


def test_list_shows_every_builtin():
    result = run("list")
    assert result.exit_code == 0
    assert {"alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"} <= {
        line.split("\t")[0] for line in result.output.splitlines()
    }


def test_render_interleaves_users_and_answers():
    result = run("render", "--system", "S", "--user", "q1", "--assistant", "a1", "--user", "q2")
    assert result.exit_code == 0
    assert result.output == "[INST] <<SYS>>\nS\n<</SYS>>\n\nq1 [/INST] a1</s><s>[INST] q2 [/INST]\n"


def test_render_reads_a_json_messages_file_and_prints_safe_ids(tmp_path, tokenizer_dir, tokenizer):
    messages = [{"role": "user", "content": "你好 </s>"}]
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")
    result = run("render", "--messages", str(path), "--ids", str(tokenizer_dir))
    assert result.exit_code == 0, result.output
    text, ids = result.output.rstrip("\n").rsplit("\n", 1)
    assert text == get_template().render(messages)
    assert 2 not in json.loads(ids)


def test_errors_are_clean_messages_not_tracebacks():
    result = run("render", "--template", "nope", "--user", "q")
    assert result.exit_code == 1
    assert "Error: unknown template 'nope'" in result.output
    assert run("render", "--user", "q", "--assistant", "a", "--assistant", "b").exit_code == 2


def test_export_prints_or_writes_each_format(tmp_path, tokenizer_dir):
    assert run("export", "--format", "jinja").output == get_template().chat_template + "\n"
    out = tmp_path / "t.jinja"
    assert run("export", "--format", "vllm", "--out", str(out)).exit_code == 0
    assert out.read_text() == get_template().chat_template_with_bos + "\n"
    (tmp_path / "tokenizer_config.json").write_text('{"add_bos_token": true}')
    result = run("export", "--format", "hf", "--model-dir", str(tmp_path), "--template", "alpaca-2-long")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config == {
        "add_bos_token": True,
        "chat_template": get_template("alpaca-2-long").chat_template_with_bos,
    }
    assert run("export", "--format", "hf").exit_code == 2
