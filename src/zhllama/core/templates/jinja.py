"""Jinja chat templates generated from a ``Template``.

The generated template renders byte-identically to ``Template.render`` under the
``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)`` that transformers,
vLLM and text-generation-webui use: every tag strips the whitespace around it and all output
comes from string literals, so layout whitespace never leaks into the prompt.

Wrong input raises through ``raise_exception`` (transformers and vLLM provide it). The
messages passed to it hold no ``)``: text-generation-webui removes ``raise_exception(...)``
calls with the regex ``raise_exception\\([^)]*\\)`` when it imports a model's template.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhllama.core.templates.model import Template


def literal(text: str) -> str:
    """``text`` as a Jinja string literal (JSON escapes are valid Jinja escapes)."""
    return json.dumps(text, ensure_ascii=False)


def concat(*parts: str) -> str:
    """A Jinja ``+`` expression of ``parts`` (Jinja expressions or literals), empty literals left out."""
    return " + ".join(part for part in parts if part != '""')


def chat_template(template: Template, with_bos: bool = False, strict: bool = True) -> str:
    """The Jinja source for ``template``.

    ``with_bos``: emit ``{{ bos_token }}`` first, for runtimes that tokenize the rendered text
    without adding BOS. ``strict=False`` leaves out every role and content check (for
    text-generation-webui, which probes templates with two assistant messages in a row to find
    the text in front of an answer).
    """
    sys_before, sys_middle, sys_after = template.system_parts
    user_before, user_after = template.user_parts
    answer_before, answer_after = template.assistant_parts
    answer_end = literal(template.eos) if template.turn_tokens else literal(template.answer_separator)
    later_turn_start = literal(template.bos + user_before) if template.turn_tokens else literal(user_before)
    content = "message['content']"
    first_turn = concat(
        literal(sys_before), "system_message", literal(sys_middle), content, literal(sys_after)
    )
    default_system = (
        "none" if template.default_system_prompt is None else literal(template.default_system_prompt)
    )

    def check(condition: str, message: str) -> str:
        if not strict:
            return ""
        return f"{{%- if {condition} -%}}{{{{- raise_exception({literal(message)}) -}}}}{{%- endif -%}}\n"

    lines = [
        f"{{#- zhllama template {template.name}: {template.description} -#}}\n",
        check("messages | length == 0", "messages is empty: pass at least one user message"),
        "{%- if messages and messages[0]['role'] == 'system' -%}\n",
        "{%- set system_message = messages[0]['content'] -%}\n",
        "{%- set loop_messages = messages[1:] -%}\n",
        "{%- else -%}\n",
        f"{{%- set system_message = {default_system} -%}}\n",
        "{%- set loop_messages = messages -%}\n",
        "{%- endif -%}\n",
        check(
            "messages and loop_messages | length == 0",
            "messages hold only a system message: add a user message",
        ),
        check(
            "system_message is not none and system_message is not string",
            "the system content must be a string",
        ),
        "{{- bos_token -}}\n" if with_bos else "",
        "{%- for message in loop_messages -%}\n",
        check(
            "message['role'] not in ['user', 'assistant']",
            "roles must be user or assistant after an optional leading system message",
        ),
        check(
            "(message['role'] == 'user') != (loop.index0 % 2 == 0)",
            "roles must alternate user/assistant starting with user",
        ),
        check("message['content'] is not string", "message content must be a string"),
        "{%- if message['role'] == 'user' -%}\n",
        "{%- if loop.first and system_message is not none -%}\n",
        f"{{{{- {first_turn} -}}}}\n",
        "{%- elif loop.first -%}\n",
        f"{{{{- {concat(literal(user_before), content, literal(user_after))} -}}}}\n",
        "{%- else -%}\n",
        f"{{{{- {concat(later_turn_start, content, literal(user_after))} -}}}}\n",
        "{%- endif -%}\n",
        "{%- else -%}\n",
        f"{{{{- {concat(literal(answer_before), content, literal(answer_after), answer_end)} -}}}}\n",
        "{%- endif -%}\n",
        "{%- endfor -%}\n",
        check(
            "add_generation_prompt and loop_messages and loop_messages[-1]['role'] != 'user'",
            "add_generation_prompt needs the last message to be a user message",
        ),
    ]
    return "".join(lines).rstrip("\n")
