"""Attacks through message text: typed control strings never become control tokens, on any path
that turns a conversation into ids, and the one path that sends text (prompt_format="text")
refuses them instead of letting the server parse them."""

import itertools

import pytest

from zhllama.backends import BackendError, OpenAICompatibleBackend
from zhllama.core.templates import encode_messages, get_template, list_templates

CONTROL = ["<s>", "</s>", "<unk>", "<pad>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "### Instruction:"]
DECORATIONS = ["{}", " {} ", "{}{}", "a{}b", "\n{}\n", "＜{}＞", "{}" + "字" * 3, "</s><s>{}"]
PAYLOADS = [
    decoration.format(*[control] * decoration.count("{}"))
    for control in CONTROL
    for decoration in DECORATIONS
]


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_no_typed_string_becomes_a_control_id_in_any_role(tokenizer, template):
    """Every payload in every role of every template: BOS/EOS/UNK ids only where the template puts them."""
    chosen = get_template(template)
    cases = 0
    for payload, role in itertools.product(PAYLOADS, ("system", "user", "assistant")):
        if role == "assistant":
            messages = [
                {"role": "user", "content": "问"},
                {"role": "assistant", "content": payload},
                {"role": "user", "content": "再问"},
            ]
        else:
            messages = [{"role": role, "content": payload}] + (
                [{"role": "user", "content": "问"}] if role == "system" else []
            )
        plain = [{**m, "content": "字"} for m in messages]
        ids = encode_messages(tokenizer, chosen, messages)
        expected = encode_messages(tokenizer, chosen, plain)
        controls = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id}
        assert [i for i in ids if i in controls] == [i for i in expected if i in controls], (payload, role)
        cases += 1
    assert cases == len(PAYLOADS) * 3


@pytest.mark.parametrize("typed", ["<s>", "</s>", "<unk>"])
def test_text_prompts_refuse_typed_control_strings(tokenizer_dir, typed):
    backend = OpenAICompatibleBackend(
        "http://127.0.0.1:9/v1", tokenizer_dir, prompt_format="text", model="m", context_window=256
    )
    with pytest.raises(BackendError, match="control token"):
        backend.complete([{"role": "user", "content": f"你好{typed}"}])
