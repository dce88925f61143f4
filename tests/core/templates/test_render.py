"""Rendering: the exact upstream strings, multi-turn, system prompts and input validation."""

import pytest

from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT, LONG_SYSTEM_PROMPT, get_template
from zhllama.errors import TemplateError

SYS = "You are a helpful assistant. 你是一个乐于助人的助手。"


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


def test_system_prompts_are_upstreams():
    assert DEFAULT_SYSTEM_PROMPT == SYS
    assert LONG_SYSTEM_PROMPT == SYS + "请你提供专业、有逻辑、内容真实、有价值的详细回复。"


def test_single_turn_is_upstreams_template_with_the_default_system_prompt():
    assert get_template("alpaca-2").render([user("为什么要减少污染，保护环境？")]) == (
        f"[INST] <<SYS>>\n{SYS}\n<</SYS>>\n\n为什么要减少污染，保护环境？ [/INST]"
    )


def test_long_template_uses_the_long_answer_system_prompt():
    assert get_template("alpaca-2-long").render([user("q")]) == (
        f"[INST] <<SYS>>\n{LONG_SYSTEM_PROMPT}\n<</SYS>>\n\nq [/INST]"
    )


def test_a_system_message_replaces_the_default():
    assert (
        get_template("alpaca-2").render([system("S"), user("q")])
        == "[INST] <<SYS>>\nS\n<</SYS>>\n\nq [/INST]"
    )


def test_multi_turn_joins_turns_with_literal_eos_bos_and_puts_the_system_prompt_on_the_first_turn_only():
    messages = [system("S"), user("q1"), assistant("a1"), user("q2"), assistant("a2"), user("q3")]
    assert get_template("alpaca-2").render(messages) == (
        "[INST] <<SYS>>\nS\n<</SYS>>\n\nq1 [/INST] a1</s><s>[INST] q2 [/INST] a2</s><s>[INST] q3 [/INST]"
    )


def test_rendered_text_never_starts_with_bos():
    for template in ("alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"):
        assert not get_template(template).render([user("q")]).startswith("<s>")


def test_a_conversation_ending_with_an_answer_renders_the_closing_eos_without_generation_prompt():
    text = get_template("alpaca-2").render([user("q"), assistant("a")], add_generation_prompt=False)
    assert text == f"[INST] <<SYS>>\n{SYS}\n<</SYS>>\n\nq [/INST] a</s>"


def test_generation_prompt_flag_does_not_change_a_conversation_ending_with_a_user_message():
    template = get_template("alpaca-2")
    messages = [user("q1"), assistant("a1"), user("q2")]
    assert template.render(messages, add_generation_prompt=False) == template.render(messages)


def test_first_generation_alpaca_is_the_upstream_instruction_prompt():
    assert get_template("alpaca").render([user("你好")]) == (
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request."
        "\n\n### Instruction:\n\n你好\n\n### Response:\n\n"
    )


def test_first_generation_alpaca_continues_turns_with_plain_text():
    assert get_template("alpaca").render([system("P"), user("q1"), assistant("a1"), user("q2")]) == (
        "P\n\n### Instruction:\n\nq1\n\n### Response:\n\na1\n\n### Instruction:\n\nq2\n\n### Response:\n\n"
    )


def test_llama_2_chat_is_metas_layout_without_a_default_system_prompt():
    template = get_template("llama-2-chat")
    assert template.default_system_prompt is None
    assert (
        template.render([user("q1"), assistant("a1"), user("q2")])
        == "[INST] q1 [/INST] a1 </s><s>[INST] q2 [/INST]"
    )
    assert template.render([system("S"), user("q1")]) == "[INST] <<SYS>>\nS\n<</SYS>>\n\nq1 [/INST]"


def test_message_text_is_never_formatted():
    assert "{system} {user} {0}" in get_template("alpaca-2").render([user("{system} {user} {0}")])


@pytest.mark.parametrize(
    ("messages", "kwargs", "fragment"),
    [
        ([], {}, "messages is empty"),
        ([system("S")], {}, "only a system message"),
        ([assistant("a")], {}, "alternate user/assistant starting with user"),
        ([user("q"), user("q")], {}, "alternate"),
        ([user("q"), system("S")], {}, "only first"),
        ([user("q"), {"role": "tool", "content": "x"}], {}, "unknown role 'tool'"),
        ([user(["parts"])], {}, "content must be a string"),
        ([{"content": "x"}], {}, "'role' and 'content'"),
        ([user("q"), assistant("a")], {}, "end with a user message, or pass add_generation_prompt=False"),
        ("q", {}, "must be a list"),
    ],
)
def test_invalid_conversations_raise_a_template_error_saying_what_to_fix(messages, kwargs, fragment):
    with pytest.raises(TemplateError, match=fragment.replace("(", r"\(")):
        get_template("alpaca-2").render(messages, **kwargs)


def test_segments_mark_structure_apart_from_text_and_content():
    segments = get_template("alpaca-2").segments([system("S"), user("q1"), assistant("a1"), user("q2")])
    assert [s.kind for s in segments if s.kind in ("bos", "eos")] == ["bos", "eos", "bos"]
    assert [s.text for s in segments if s.kind == "content"] == ["S", "q1", "a1", "q2"]
