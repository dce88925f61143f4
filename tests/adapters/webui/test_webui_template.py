"""The installed instruction template, rendered the way webui's 2026 generate_chat_prompt renders it.

tests/core/templates/test_exports.py checks the same YAML with webui's earlier rule (render
without generation prompt, probe for the answer prefix). The 2026 webui renders in a sandboxed
environment with ``loopcontrols``, passes ``add_generation_prompt`` and ``bos_token``/``eos_token``
(and tool/thinking variables), and in instruct mode sets ``add_bos_token=False``.
"""

import pytest
import yaml
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from zhllama.adapters.webui import installer
from zhllama.core.templates import get_template

TEMPLATE = get_template("alpaca-2")
CONVERSATIONS = [
    [{"role": "user", "content": "你好"}],
    [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "问题二"},
    ],
    [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}],
]


def webui_render(instruction_template: str, messages: list[dict], add_generation_prompt: bool) -> str:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    return env.from_string(instruction_template).render(
        messages=messages,
        add_generation_prompt=add_generation_prompt,
        builtin_tools=None,
        tools=None,
        tools_in_user_message=False,
        enable_thinking=False,
        thinking=False,
        reasoning_effort="medium",
        preserve_thinking=False,
        thinking_budget=0,
        bos_token="<s>",
        eos_token="</s>",
    )


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_webui_rendering_the_installed_template_gives_our_prompt(messages, webui_checkout):
    installer.install(webui_checkout)
    text = (webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml").read_text()
    source = yaml.safe_load(text)["instruction_template"]
    add_generation_prompt = messages[-1]["role"] == "user"
    expected = "<s>" + TEMPLATE.render(messages, add_generation_prompt)
    assert webui_render(source, messages, add_generation_prompt) == expected, (
        "instruct mode: BOS from the template"
    )
