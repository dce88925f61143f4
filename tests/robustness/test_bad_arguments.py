"""Attacks through command-line arguments and library parameters: out-of-range numbers and wrong
types are refused before any work, with the option or parameter named."""

import pytest

from zhllama.core.sampling import Sampling
from zhllama.core.templates import encode_messages, get_template
from zhllama.core.tokenizer.model_file import load_processor
from zhllama.errors import SamplingError


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("chat", "你好", "--max-new-tokens", "0"), "--max-new-tokens"),
        (("chat", "你好", "--max-new-tokens", "-3"), "--max-new-tokens"),
        (("chat", "你好", "--context", "0"), "--context"),
        (("chat", "你好", "--timeout", "0"), "--timeout"),
        (("chat", "你好", "--seed", "x"), "--seed"),
        (("qa", "ask", "问题", "--db", "/nowhere", "--k", "0"), "--k"),
        (("qa", "ask", "问题", "--db", "/nowhere", "--k", "-1"), "--k"),
        (("qa", "search", "问题", "--db", "/nowhere", "--k", "0"), "--k"),
        (("qa", "search", "问题", "--db", "/nowhere", "--k", "-1"), "--k"),
        (("qa", "ingest", "/definitely/not/here", "--db", "/tmp/x"), "PATHS"),
        (("qa", "ingest", ".", "--db", "/tmp/x", "--max-file-mb", "0"), "--max-file-mb"),
        (("qa", "search", "--db", "/nowhere"), "QUESTION"),
        (("summarize", "/definitely/not/here.txt", "--chain", "stuff"), "Error"),
        (("eval", "ppl", ".", "--data", "x", "--max-windows", "0"), "--max-windows"),
    ],
)
def test_out_of_range_arguments_are_usage_errors(refuses, args, option):
    refuses(*args, says=option, status=2 if option.startswith("--") or option.isupper() else 1)


@pytest.mark.parametrize("name", ["c0", "my notes", "a..b", "10.0.0.1", "docqa--part-2"])
def test_a_collection_name_chroma_cannot_take_says_what_a_name_may_be(refuses, tmp_path, name):
    """Chroma's own refusal reached the user as "the store looks damaged: delete it"."""
    for command in (("qa", "ingest", tmp_path), ("qa", "search", "长城")):
        output = refuses(
            *command, "--db", tmp_path / "db", "--collection", name, says="cannot name a collection"
        )
        assert "damaged" not in output
    assert not (tmp_path / "db").exists(), "nothing made for a name that cannot be used"


def test_a_queries_file_in_an_unknown_encoding_is_named(refuses, tmp_path):
    (tmp_path / "q.txt").write_bytes(bytes(range(128, 256)) * 4)
    refuses(
        "qa", "search", "--db", tmp_path / "db", "--queries", tmp_path / "q.txt", says="--queries", status=2
    )


@pytest.mark.parametrize(
    "messages_file", ['{"role": "user", "content": "x"}', '"just text"', "42", "{not json"]
)
def test_template_render_refuses_messages_that_are_not_a_list(refuses, tmp_path, messages_file):
    (tmp_path / "m.json").write_text(messages_file, encoding="utf-8")
    refuses("template", "render", "--messages", tmp_path / "m.json", says="--messages", status=2)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "assistant", "content": "先答"}],
        [{"role": "user", "content": 3}],
        [{"role": "tool", "content": "x"}],
        [{"role": "system", "content": "只有系统"}],
    ],
)
def test_template_render_names_what_is_wrong_with_a_conversation(refuses, tmp_path, messages):
    import json

    (tmp_path / "m.json").write_text(json.dumps(messages), encoding="utf-8")
    refuses("template", "render", "--messages", tmp_path / "m.json", says="message")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -1),
        ("temperature", float("nan")),
        ("top_k", -1),
        ("top_k", 2.5),
        ("top_p", 0),
        ("top_p", 1.5),
        ("repetition_penalty", 0),
        ("max_new_tokens", 0),
        ("max_new_tokens", "512"),
        ("max_new_tokens", True),
    ],
)
def test_sampling_settings_out_of_range_name_the_setting(field, value):
    with pytest.raises(SamplingError, match=f"`{field}`"):
        Sampling(**{field: value})


def test_encode_messages_takes_a_raw_sentencepiece_processor(tokenizer_dir, tokenizer):
    messages = [{"role": "user", "content": "你好</s>"}]
    raw = encode_messages(load_processor(tokenizer_dir), get_template(), messages)
    assert raw == encode_messages(tokenizer, get_template(), messages)
    assert raw[0] == 1 and 2 not in raw
