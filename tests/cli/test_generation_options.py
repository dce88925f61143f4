"""The speed and sampling options every generating command shares (``cli/options.py``):
``--draft``/``--lookup`` change nothing in greedy answers, ``--guidance-scale``/``--negative-prompt``
are CFG, refused where the runtime has none before any model loads."""

import json

import pytest
from click.testing import CliRunner

from zhllama.cli import main

QUESTION = "续写下面的文字：话说天下大势，分久必合，合久必分。"
GREEDY = ["--greedy", "--max-new-tokens", "8", "--no-show-prompt"]


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def answer(*args):
    result = run("chat", QUESTION, *GREEDY, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_chat_speculates_in_transformers_with_the_same_answer(tiny_draft_dir):
    plain = answer()
    assert answer("--lookup", "4") == plain
    assert answer("--draft", tiny_draft_dir) == plain


def test_chat_speculates_in_llama_cpp_with_the_same_answer(tiny_gguf, tiny_draft_gguf, tokenizer_dir):
    model = ["--gguf", tiny_gguf, "--tokenizer", tokenizer_dir]
    plain = answer(*model)
    assert answer(*model, "--lookup", "4") == plain
    assert answer(*model, "--draft", tiny_draft_gguf) == plain


def test_chat_samples_with_cfg_in_transformers():
    assert answer("--guidance-scale", "1") == answer()
    assert answer("--guidance-scale", "1.5") != answer()
    assert answer("--guidance-scale", "3", "--negative-prompt", "回复尽可能多的内容。") != answer(
        "--guidance-scale", "3"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["chat", QUESTION],
        ["qa", "ask", "长城有多长？", "--db", "{db}"],
        ["qa", "chat", "--db", "{db}"],
        ["summarize", "{file}"],
    ],
)
def test_every_generating_command_takes_the_options(command, examples_db, examples_dir):
    def filled(arg):
        return arg.format(db=examples_db, file=examples_dir / "长城.md")

    args = [filled(arg) for arg in command]
    result = run(*args, "--greedy", "--max-new-tokens", "4", "--lookup", "3", input="长城有多长？\n")
    assert result.exit_code == 0, result.output
    refused = run(*args, "--gguf", "x.gguf", "--guidance-scale", "2")
    assert refused.exit_code == 1 and "Error:" in refused.output


def test_cfg_on_llama_cpp_is_refused_before_the_model_loads(tiny_gguf, tokenizer_dir):
    result = run(
        "chat", QUESTION, "--gguf", tiny_gguf, "--tokenizer", tokenizer_dir, "--guidance-scale", "1.5"
    )
    assert result.exit_code == 1 and "loading" not in result.output
    assert "Error: --guidance-scale (CFG sampling) runs on the transformers backend only" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--negative-prompt", "简短。"], "a --negative-prompt needs CFG: set --guidance-scale"),
        (["--lookup", "2", "--guidance-scale", "1.5"], "--guidance-scale (CFG) and speculative decoding"),
        (["--lookup", "2", "--draft", "d"], "give --draft (a draft model) or --lookup"),
        (["--openai-base-url", "http://127.0.0.1:9/v1", "--lookup", "2"], "runs inside the server"),
        (["--draft", "no-such-folder"], "--draft: model folder 'no-such-folder' does not exist"),
    ],
)
def test_option_combinations_that_cannot_work_are_one_line_errors(args, message, tokenizer_dir):
    result = run("chat", QUESTION, "--tokenizer", tokenizer_dir, *args)
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    assert message in result.output


def test_qa_ask_json_answer_is_unchanged_by_lookup(examples_db):
    def ask(*extra):
        args = [
            "qa",
            "ask",
            "长城有多长？",
            "--db",
            examples_db,
            "--json",
            "--greedy",
            "--max-new-tokens",
            "8",
        ]
        result = run(*args, *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["answer"]

    assert ask("--lookup", "4") == ask()
