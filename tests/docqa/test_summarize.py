"""Summaries: stuff when the document fits, map-reduce (or refine) otherwise, upstream prompts only."""

import json

import pytest
from click.testing import CliRunner

from zhllama.cli import main
from zhllama.core import prompts
from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT
from zhllama.docqa.summarize import summarize_file, summarize_text
from zhllama.errors import DocQAError


def alpaca2(instruction: str) -> str:
    return f"[INST] <<SYS>>\n{DEFAULT_SYSTEM_PROMPT}\n<</SYS>>\n\n{instruction} [/INST]"


@pytest.fixture(scope="module")
def long_text(cmrc):
    return "\n".join(p["context"] for p in cmrc[:2])  # about 650 tokens


def test_a_short_document_is_summarised_in_one_stuff_call(make_runner, examples_dir):
    runner = make_runner()
    summary = summarize_file(examples_dir / "茶叶-gbk.txt", runner)
    text = (examples_dir / "茶叶-gbk.txt").read_bytes().decode("gb18030").strip()
    assert summary.chain == "stuff" and summary.calls == 1 and summary.encoding == "gb18030"
    assert runner.backend.prompts == [alpaca2(prompts.SUMMARY.fill(text=text))]


def test_a_long_document_is_map_reduced_and_every_call_is_an_upstream_prompt(make_runner, long_text):
    runner = make_runner(window=200)
    summary = summarize_text(long_text, runner)
    assert summary.chain == "map_reduce" and summary.pieces > 2 and summary.calls > summary.pieces
    sent = [messages[-1]["content"] for messages in runner.backend.messages]
    maps = sent[: summary.pieces]
    assert all(m.startswith("请为以下文字写一段摘要:\n") for m in sent)
    for line in long_text.splitlines():
        assert line[:20] in "".join(maps), "every part of the document reaches a map call"
    for messages, prompt in zip(runner.backend.messages, runner.backend.prompts, strict=True):
        assert len(messages) == 1 and prompt == alpaca2(messages[0]["content"])
    partials = [call.completion.text for call in runner.calls[: summary.pieces]]
    assert partials[0] in sent[summary.pieces], "the reduce step reads the map step's summaries"


def test_refine_uses_the_upstream_refine_step(make_runner, long_text):
    runner = make_runner(window=256)
    summary = summarize_text(long_text, runner, "refine")
    sent = [messages[-1]["content"] for messages in runner.backend.messages]
    assert summary.chain == "refine" and sent[0].startswith("请为以下文字写一段摘要:\n")
    assert all(
        s.startswith(f"已有一段摘要：{c.completion.text}\n")
        for s, c in zip(sent[1:], runner.calls[:-1], strict=True)
    )
    assert all(
        s.endswith("如果这段文字没有用，返回原来的摘要即可。请你生成一个最终的摘要。") for s in sent[1:]
    )


def test_stuff_on_a_document_that_does_not_fit_says_what_to_use(make_runner, long_text):
    with pytest.raises(DocQAError, match="`chain` map_reduce or refine"):
        summarize_text(long_text, make_runner(), "stuff")


def test_summarize_command_streams_and_reports_json(tmp_path, examples_dir):
    result = CliRunner().invoke(
        main, ["summarize", str(examples_dir / "长城.md"), "--json", "--max-new-tokens", "6", "--greedy"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chain"] == "stuff" and data["summary"] and data["file"].endswith("长城.md")
    assert data["timings"]["total_s"] > 0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.txt", None, "cannot read"),
        ("empty.txt", b"", "empty file"),
        ("x.bin", b"\x00\x01", "unsupported"),
    ],
)
def test_unreadable_files_are_clean_errors(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["summarize", str(path)])
    assert result.exit_code == 1 and f"cannot summarize {path}: " in result.output and reason in result.output
