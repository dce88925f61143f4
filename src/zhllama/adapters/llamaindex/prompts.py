"""Alpaca-2 prompts for LlamaIndex: ``messages_to_prompt``, ``completion_to_prompt`` and the QA templates.

Why not LlamaIndex's own Llama-2 helpers (``llama_index.llms.llama_cpp.llama_utils``): they write
``<s> [INST] <<SYS>>\\n {system} \\n<</SYS>>\\n\\n {user} [/INST]`` — a literal ``<s>`` that llama.cpp
(which adds BOS itself and parses special text) turns into a second BOS, and spaces around the system
prompt and after ``[INST]`` that upstream never trained on. These render through ``Template.render``:
no leading ``<s>``, upstream's exact spacing, ``</s><s>`` only between turns.

The QA templates are upstream's Chinese prompts (``zhllama.core.prompts``) with LlamaIndex's variable
names: ``context_str`` and ``query_str`` for ``text_qa_template``; ``query_str``, ``existing_answer``
and ``context_msg`` for ``refine_template``.
"""

from collections.abc import Sequence

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.prompts import PromptTemplate, PromptType

from zhllama.core import prompts
from zhllama.core.prompts import Prompt
from zhllama.core.templates import DEFAULT_TEMPLATE, Template, resolve_template
from zhllama.errors import TemplateError

_ROLES = {MessageRole.SYSTEM: "system", MessageRole.USER: "user", MessageRole.ASSISTANT: "assistant"}


def to_zhllama_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """LlamaIndex chat messages as ``{"role", "content"}`` dicts.

    Tool/function roles and non-text blocks (``ImageBlock``, ``AudioBlock``, documents) are an error:
    ``ChatMessage.content`` would silently drop those blocks, and the family reads text only.
    """
    converted = []
    for message in messages:
        role = _ROLES.get(message.role)
        if role is None:
            raise TemplateError(
                f"a {message.role.value!r} message cannot be rendered by the Alpaca-2 template: pass system, "
                "user and assistant messages only (the family has no tool-calling format)"
            )
        for block in message.blocks:
            if not isinstance(block, TextBlock):
                raise TemplateError(
                    f"a {role} message holds a {type(block).__name__}: Chinese-Alpaca-2 reads text only; "
                    "describe the image (or file) in words, or use a multimodal model for it"
                )
        converted.append({"role": role, "content": message.content or ""})
    return converted


def messages_to_prompt(messages: Sequence[ChatMessage], template: str | Template = DEFAULT_TEMPLATE) -> str:
    """The conversation as upstream renders it (no leading ``<s>``: the tokenizer adds BOS)."""
    return resolve_template(template).render(to_zhllama_messages(messages))


def completion_to_prompt(
    completion: str, template: str | Template = DEFAULT_TEMPLATE, system_prompt: str | None = None
) -> str:
    """One instruction with the template's default system prompt (or ``system_prompt``), unstripped."""
    return resolve_template(template).render_instruction(completion, system_prompt)


def as_prompt_template(prompt: Prompt, names: dict[str, str], prompt_type: PromptType) -> PromptTemplate:
    """An upstream ``Prompt`` as a LlamaIndex ``PromptTemplate``, fields renamed by ``names``.

    Upstream texts hold no braces besides their fields, so ``str.format`` placeholders are safe.
    """
    text = prompt.text
    for ours, theirs in names.items():
        text = text.replace("{" + ours + "}", "{" + theirs + "}")
    return PromptTemplate(text, prompt_type=prompt_type, metadata={"zhllama_prompt": prompt.name})


TEXT_QA_TEMPLATE = as_prompt_template(
    prompts.REFINE_QA_INITIAL,
    {"context_str": "context_str", "question": "query_str"},
    PromptType.QUESTION_ANSWER,
)
"""Upstream's refine-initial QA prompt (``以下为背景知识：...{context_str}...{query_str}。``)."""

REFINE_TEMPLATE = as_prompt_template(
    prompts.REFINE_QA_STEP,
    {"question": "query_str", "existing_answer": "existing_answer", "context_str": "context_msg"},
    PromptType.REFINE,
)
"""Upstream's refine step (``这是原始问题: {query_str}...{existing_answer}...{context_msg}...``)."""

STUFF_QA_TEMPLATE = as_prompt_template(
    prompts.STUFF_QA_PRIVATEGPT,
    {"context": "context_str", "question": "query_str"},
    PromptType.QUESTION_ANSWER,
)
"""privateGPT's stuff prompt ``{context_str}\\n\\n{query_str}``, for ``text_qa_template=`` when wanted."""
