"""truncate_history: drop whole oldest turns to fit a budget, keep the system prompt."""

import pytest

from zhllama.core.templates import encode_messages, get_template, truncate_history
from zhllama.errors import TemplateError

TEMPLATE = get_template("alpaca-2")
MESSAGES = [
    {"role": "system", "content": "你是一个诗人。"},
    {"role": "user", "content": "写一首关于春天的诗。"},
    {"role": "assistant", "content": "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"},
    {"role": "user", "content": "再写一首关于秋天的。"},
    {"role": "assistant", "content": "空山新雨后，天气晚来秋。"},
    {"role": "user", "content": "谢谢！"},
]


def length(tokenizer, messages):
    return len(encode_messages(tokenizer, TEMPLATE, messages))


def test_a_conversation_within_budget_is_returned_whole(tokenizer):
    assert truncate_history(MESSAGES, tokenizer, length(tokenizer, MESSAGES), TEMPLATE) == MESSAGES


def test_over_budget_drops_the_oldest_turns_whole_and_keeps_the_system_prompt(tokenizer):
    budget = length(tokenizer, MESSAGES) - 1
    kept = truncate_history(MESSAGES, tokenizer, budget, TEMPLATE)
    assert kept == [MESSAGES[0], *MESSAGES[3:]]
    assert length(tokenizer, kept) <= budget
    assert TEMPLATE.render(kept).startswith(
        "[INST] <<SYS>>\n你是一个诗人。\n<</SYS>>\n\n再写一首关于秋天的。 [/INST]"
    )


def test_the_default_system_prompt_moves_to_the_new_first_turn(tokenizer):
    messages = MESSAGES[1:]
    kept = truncate_history(messages, tokenizer, length(tokenizer, [messages[-1]]), TEMPLATE)
    assert kept == [messages[-1]]
    assert TEMPLATE.render(kept) == TEMPLATE.render_instruction("谢谢！")


def test_the_smallest_fitting_budget_keeps_only_the_last_turn(tokenizer):
    last = [MESSAGES[0], MESSAGES[-1]]
    assert truncate_history(MESSAGES, tokenizer, length(tokenizer, last), TEMPLATE) == last


def test_a_last_turn_that_does_not_fit_is_an_error(tokenizer):
    needed = length(tokenizer, [MESSAGES[0], MESSAGES[-1]])
    with pytest.raises(TemplateError, match=f"takes {needed} tokens.*max_tokens={needed - 1}"):
        truncate_history(MESSAGES, tokenizer, needed - 1, TEMPLATE)


def test_finished_conversations_truncate_by_the_same_rule(tokenizer):
    messages = MESSAGES[:5]
    full = len(encode_messages(tokenizer, TEMPLATE, messages, add_generation_prompt=False))
    kept = truncate_history(messages, tokenizer, full - 1, TEMPLATE, add_generation_prompt=False)
    assert kept == [MESSAGES[0], MESSAGES[3], MESSAGES[4]]
