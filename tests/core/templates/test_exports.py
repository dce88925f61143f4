"""Each export, rendered with the consumer's own renderer (or a faithful copy of its rule)."""

import json
import re
import shlex
from functools import partial

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from zhllama.core.templates import encode_messages, exports, get_template
from zhllama.errors import TemplateError

TEMPLATE = get_template("alpaca-2")
CONVERSATION = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "a1"},
    {"role": "user", "content": "问题二"},
]


@pytest.fixture
def model_dir(tmp_path, tokenizer_dir):
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        (tmp_path / name).write_bytes((tokenizer_dir / name).read_bytes())
    return tmp_path


def test_hf_export_sets_the_with_bos_chat_template_and_keeps_every_other_key(model_dir, tokenizer_dir):
    before = json.loads((model_dir / "tokenizer_config.json").read_text())
    path = exports.write_hf_chat_template(TEMPLATE, model_dir)
    after = json.loads(path.read_text())
    assert after == {**before, "chat_template": TEMPLATE.chat_template_with_bos}
    assert json.loads((model_dir / "tokenizer_config.json.bak").read_text()) == before
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".")]  # no temp file left


def test_hf_export_is_what_transformers_applies_from_the_model_folder(model_dir):
    from zhllama.core.tokenizer.sentencepiece_tokenizer import ChineseLlamaTokenizer

    exports.write_hf_chat_template(TEMPLATE, model_dir)
    tokenizer = ChineseLlamaTokenizer.from_pretrained(str(model_dir))  # reads tokenizer_config.json
    ids = tokenizer.apply_chat_template(CONVERSATION, add_generation_prompt=True, return_dict=False)
    assert ids == encode_messages(tokenizer, TEMPLATE, CONVERSATION)


def test_hf_export_into_a_missing_folder_or_bad_json_says_what_to_do(tmp_path):
    with pytest.raises(TemplateError, match="does not exist"):
        exports.write_hf_chat_template(TEMPLATE, tmp_path / "missing")
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(TemplateError, match="not valid JSON"):
        exports.write_hf_chat_template(TEMPLATE, tmp_path)


def test_vllm_export_is_the_with_bos_template_as_a_file(tmp_path, tokenizer):
    path = exports.write_export(TEMPLATE, "vllm", tmp_path / "alpaca-2.jinja")
    text = tokenizer.apply_chat_template(
        CONVERSATION, chat_template=path.read_text(), tokenize=False, add_generation_prompt=True
    )
    assert text == "<s>" + TEMPLATE.render(CONVERSATION)


def webui_prompt(instruction_template: str, messages: list[dict]) -> str:
    """text-generation-webui's instruct-mode prompt (modules/chat.py): render without generation
    prompt, append the prefix found by probing two assistant messages, strip a leading BOS."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    renderer = partial(env.from_string(instruction_template).render, add_generation_prompt=False)
    probe = renderer(
        messages=[
            {"role": "assistant", "content": "<<|user-message-1|>>"},
            {"role": "assistant", "content": "<<|user-message-2|>>"},
        ]
    )
    suffix_plus_prefix = probe.split("<<|user-message-1|>>")[1].split("<<|user-message-2|>>")[0]
    suffix = probe.split("<<|user-message-2|>>")[1]
    prefix = suffix_plus_prefix[len(suffix) :].rstrip(" ")
    prompt = renderer(messages=messages) + prefix
    while prompt.startswith("<s>"):
        prompt = prompt[len("<s>") :]
    return prompt


@pytest.mark.parametrize("name", ["alpaca-2", "alpaca-2-long", "llama-2-chat"])
def test_webui_export_renders_our_prompt_the_way_webui_builds_it(name):
    template = get_template(name)
    loaded = yaml.safe_load(exports.webui_export(template))
    for messages in (CONVERSATION, CONVERSATION[1:], CONVERSATION[1:2]):
        assert webui_prompt(loaded["instruction_template"], messages) == template.render(messages)


def test_webui_reading_the_hf_template_from_tokenizer_config_still_gets_our_prompt():
    """webui's model-metadata import: bos/eos names -> literals, raise_exception(...) -> ''."""
    source = TEMPLATE.chat_template_with_bos.replace("eos_token", "'</s>'").replace("bos_token", "'<s>'")
    source = re.sub(r"raise_exception\([^)]*\)", "''", source)
    source = re.sub(r"{% if add_generation_prompt %}.*", "", source, flags=re.DOTALL)
    assert webui_prompt(source, CONVERSATION) == TEMPLATE.render(CONVERSATION)


def test_llamacpp_flags_are_upstreams():
    text = exports.llamacpp_export(TEMPLATE)
    assert "--in-prefix-bos --in-prefix ' [INST] ' --in-suffix ' [/INST]'" in text
    first = text.split("\n# GGUF")[0][text.index("llama-cli") :]
    args = shlex.split(first)
    assert args[args.index("-p") + 1] == TEMPLATE.render_instruction("FIRST_INSTRUCTION")


def test_llamacpp_interactive_concatenation_reproduces_the_prompt(tokenizer, tokenizer_dir):
    """llama.cpp: BOS + -p prompt, the answer and its EOS, then per line BOS + in_prefix + line + in_suffix.

    The leading space of in_prefix is where the tokenizer puts its dummy prefix after ``<s>``:
    SentencePiece encodes ``" [INST] q2 [/INST]"`` without a dummy prefix exactly as it encodes
    ``"[INST] q2 [/INST]"`` with one.
    """
    import sentencepiece

    flags = exports.llamacpp_flags(TEMPLATE)
    first = exports.llamacpp_first_prompt(TEMPLATE, "q1")
    answer = " a1"  # generated after "[/INST]": its first piece carries the space
    text = first + answer + "</s>" + "<s>" + flags["in_prefix"] + "q2" + flags["in_suffix"]
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    assert text.replace("<s> ", "<s>") == TEMPLATE.render(messages)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_dir / "tokenizer.model"))
    line_ids = processor.encode((flags["in_prefix"] + "q2" + flags["in_suffix"]).lstrip(" "))
    ids = encode_messages(tokenizer, TEMPLATE, messages)
    assert ids[-len(line_ids) - 1 :] == [1, *line_ids]


def test_llamacpp_export_carries_the_gguf_chat_template():
    text = exports.llamacpp_export(TEMPLATE)
    assert json.loads(text.split("JSON-encoded:\n")[1]) == TEMPLATE.chat_template_with_bos


def privategpt_messages_to_prompt(spec: dict, messages: list[dict]) -> str:
    """What a privateGPT prompt style written from the spec does."""
    shape = spec["messages_to_prompt"]
    system = spec["default_system_prompt"]
    if messages[0]["role"] == "system":
        system, messages = messages[0]["content"], messages[1:]
    prompt = ""
    for index, message in enumerate(messages):
        if message["role"] == "user":
            if index == 0:
                first = (
                    shape["first_user_with_system"]
                    if system is not None
                    else shape["first_user_without_system"]
                )
                prompt += first.replace("{system}", system or "").replace("{user}", message["content"])
            else:
                prompt += shape["turn_start"] + shape["user"].replace("{user}", message["content"])
        else:
            prompt += shape["assistant"].replace("{assistant}", message["content"]) + shape["after_assistant"]
    return prompt


@pytest.mark.parametrize("name", ["alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"])
def test_privategpt_spec_reproduces_render(name):
    template = get_template(name)
    spec = yaml.safe_load(exports.privategpt_export(template))
    for messages in (CONVERSATION, CONVERSATION[1:]):
        assert privategpt_messages_to_prompt(spec, messages) == template.render(messages)
    completion = spec["completion_to_prompt"].replace("{system}", spec["default_system_prompt"] or "")
    assert completion.replace("{completion}", "问题") == template.render_instruction("问题")


def test_jinja_export_is_the_plain_template():
    assert exports.export_text(TEMPLATE, "jinja") == TEMPLATE.chat_template + "\n"


def test_unknown_format_names_the_known_ones():
    with pytest.raises(TemplateError, match="hf, vllm, webui, llamacpp, privategpt, jinja"):
        exports.export_text(TEMPLATE, "docx")
