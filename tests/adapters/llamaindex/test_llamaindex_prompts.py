"""Alpaca-2 prompts for LlamaIndex render upstream's exact text; LlamaIndex's Llama-2 helpers do not."""

from pathlib import Path

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.llms.llama_cpp import llama_utils

from zhllama.adapters.llamaindex import (
    REFINE_TEMPLATE,
    STUFF_QA_TEMPLATE,
    TEXT_QA_TEMPLATE,
    completion_to_prompt,
    messages_to_prompt,
)
from zhllama.core import prompts
from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT
from zhllama.errors import TemplateError

SYS = DEFAULT_SYSTEM_PROMPT


def test_completion_to_prompt_is_upstreams_single_turn_prompt():
    assert completion_to_prompt("你好") == f"[INST] <<SYS>>\n{SYS}\n<</SYS>>\n\n你好 [/INST]"


def test_completion_to_prompt_keeps_the_instruction_as_typed_and_takes_a_system_prompt():
    assert (
        completion_to_prompt(" 你好\n", system_prompt="S") == "[INST] <<SYS>>\nS\n<</SYS>>\n\n 你好\n [/INST]"
    )


def test_messages_to_prompt_renders_multi_turn_with_bos_eos_only_between_turns():
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="系统"),
        ChatMessage(role=MessageRole.USER, content="问一"),
        ChatMessage(role=MessageRole.ASSISTANT, content="答一"),
        ChatMessage(role=MessageRole.USER, content="问二"),
    ]
    assert messages_to_prompt(messages) == (
        "[INST] <<SYS>>\n系统\n<</SYS>>\n\n问一 [/INST] 答一</s><s>[INST] 问二 [/INST]"
    )


def test_messages_to_prompt_uses_the_default_system_prompt_without_a_system_message():
    assert messages_to_prompt([ChatMessage(role=MessageRole.USER, content="你好")]) == completion_to_prompt(
        "你好"
    )


def test_tool_messages_are_refused_with_a_reason():
    with pytest.raises(TemplateError, match="tool"):
        messages_to_prompt([ChatMessage(role=MessageRole.TOOL, content="{}")])


def test_llamaindex_llama2_helpers_add_a_literal_bos_and_extra_spaces():
    """What LlamaIndex's own helpers produce for the same request, next to upstream's prompt."""
    theirs = llama_utils.completion_to_prompt("你好", system_prompt=SYS)
    assert theirs == f"<s> [INST] <<SYS>>\n {SYS} \n<</SYS>>\n\n 你好 [/INST]"
    assert completion_to_prompt("你好") == f"[INST] <<SYS>>\n{SYS}\n<</SYS>>\n\n你好 [/INST]"
    chat = [
        ChatMessage(role=MessageRole.SYSTEM, content=SYS),
        ChatMessage(role=MessageRole.USER, content="你好"),
    ]
    assert llama_utils.messages_to_prompt(chat).startswith("<s> [INST] <<SYS>>\n ")
    assert not messages_to_prompt(chat).startswith("<s>")


def test_under_llama_cpp_llamaindex_helpers_give_two_bos_and_ours_one(tiny_gguf: Path):
    """llama.cpp tokenizes a text prompt with BOS added and special text parsed (LlamaCPP's path)."""
    from llama_cpp import Llama

    vocab = Llama(model_path=str(tiny_gguf), vocab_only=True, verbose=False)
    bos = vocab.token_bos()

    def ids(text: str) -> list[int]:
        return vocab.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    theirs = ids(llama_utils.completion_to_prompt("你好", system_prompt=SYS))
    ours = ids(completion_to_prompt("你好"))
    assert theirs[:2] == [bos, bos]
    assert ours[0] == bos and ours[1] != bos


def test_text_qa_template_is_upstreams_refine_initial_prompt():
    filled = TEXT_QA_TEMPLATE.format(context_str="背景", query_str="问题")
    assert filled == prompts.REFINE_QA_INITIAL.fill(context_str="背景", question="问题")


def test_refine_template_is_upstreams_refine_step_with_llamaindex_names():
    filled = REFINE_TEMPLATE.format(query_str="问题", existing_answer="旧答", context_msg="新文")
    assert filled == prompts.REFINE_QA_STEP.fill(question="问题", existing_answer="旧答", context_str="新文")


def test_stuff_template_is_privategpts_stuff_prompt():
    filled = STUFF_QA_TEMPLATE.format(context_str="背景", query_str="问题")
    assert filled == "背景\n\n问题"
