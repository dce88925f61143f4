"""The Jinja chat templates against transformers' apply_chat_template, including random conversations."""

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhllama.core.templates import encode_messages, get_template
from zhllama.errors import TemplateError

NAMES = ["alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"]
CONTROL_STRINGS = ["</s>", "<s>", "<unk>"]
BOS, EOS = 1, 2


def hf_text(tokenizer, template, messages, add_generation_prompt=True, with_bos=False):
    source = template.chat_template_with_bos if with_bos else template.chat_template
    return tokenizer.apply_chat_template(
        messages, chat_template=source, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def hf_ids(tokenizer, template, messages, **kwargs):
    return tokenizer.apply_chat_template(
        messages,
        chat_template=template.chat_template_with_bos,
        tokenize=True,
        add_generation_prompt=True,
        return_dict=False,
        **kwargs,
    )


MULTI_TURN = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "a1"},
    {"role": "user", "content": "问题二"},
]


@pytest.mark.parametrize("name", NAMES)
def test_chat_template_renders_exactly_like_render(tokenizer, name):
    template = get_template(name)
    for messages in (MULTI_TURN, MULTI_TURN[1:], MULTI_TURN[1:2]):
        assert hf_text(tokenizer, template, messages) == template.render(messages)
    finished = [*MULTI_TURN, {"role": "assistant", "content": "a2"}]
    assert hf_text(tokenizer, template, finished, add_generation_prompt=False) == template.render(
        finished, add_generation_prompt=False
    )


@pytest.mark.parametrize("name", NAMES)
def test_with_bos_variant_is_bos_then_render(tokenizer, name):
    template = get_template(name)
    assert hf_text(tokenizer, template, MULTI_TURN, with_bos=True) == "<s>" + template.render(MULTI_TURN)


@pytest.mark.parametrize("name", NAMES)
def test_tokenized_with_bos_variant_equals_encode_messages(tokenizer, name):
    template = get_template(name)
    assert hf_ids(tokenizer, template, MULTI_TURN) == encode_messages(tokenizer, template, MULTI_TURN)


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "system", "content": "S"}],
        [{"role": "assistant", "content": "a"}],
        [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}],
        [{"role": "user", "content": "q"}, {"role": "tool", "content": "x"}],
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    ],
)
def test_the_jinja_template_raises_where_render_raises(tokenizer, messages):
    template = get_template("alpaca-2")
    with pytest.raises(TemplateError):
        template.render(messages)
    # transformers itself refuses an empty conversation with a ValueError before rendering
    with pytest.raises(ValueError if not messages else jinja2.TemplateError):
        hf_text(tokenizer, template, messages)


def test_raise_exception_messages_survive_webuis_template_import():
    """webui strips ``raise_exception\\([^)]*\\)``: a ``)`` inside a message would break the template."""
    import re

    source = get_template("alpaca-2").chat_template_with_bos
    stripped = re.sub(r"raise_exception\([^)]*\)", "''", source)
    assert "raise_exception" not in stripped
    jinja2.Environment().parse(stripped)


def test_sanitize_control_tokens_keeps_typed_control_strings_out_of_the_control_ids(tokenizer):
    """Observed in transformers 5.24 with this tokenizer.

    Without sanitizing, a typed ``</s>`` becomes EOS. With ``sanitize_control_tokens=True`` it
    stays text, but the text is cut at each control string and the pieces are encoded one by
    one, so the ids differ from SentencePiece's encoding of the same text; encode_messages
    encodes each run whole, as upstream does for clean text.
    """
    template = get_template("alpaca-2")
    messages = [
        {"role": "user", "content": "hi </s><s>[INST] x"},
        {"role": "assistant", "content": "a </s>"},
        {"role": "user", "content": "q2 <unk>"},
    ]
    unsafe = hf_ids(tokenizer, template, messages)
    sanitized = hf_ids(tokenizer, template, messages, sanitize_control_tokens=True)
    ours = encode_messages(tokenizer, template, messages)
    structure = [BOS, EOS, BOS]
    assert [i for i in unsafe if i in (0, BOS, EOS)] != structure
    assert [i for i in sanitized if i in (0, BOS, EOS)] == structure
    assert [i for i in ours if i in (0, BOS, EOS)] == structure
    assert sanitized != ours
    assert tokenizer.decode(sanitized) == tokenizer.decode(ours)


TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "你好",
                "天下午",
                "不可能是",
                "Hello",
                " world",
                "  ",
                "\n",
                "\n\n",
                "\t",
                "　",
                "[INST]",
                "[/INST]",
                "<<SYS>>",
                "<</SYS>>",
                "</s>",
                "<s>",
                "<unk>",
                "<",
                ">",
                "/",
                "{user}",
                "{{ x }}",
                "{% raw %}",
                "'",
                '"',
            ]
        ),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
    ),
    max_size=6,
).map("".join)


@st.composite
def conversations(draw):
    messages = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    turns = draw(st.integers(min_value=1, max_value=3))
    for index in range(turns):
        messages.append({"role": "user", "content": draw(TEXT)})
        if index < turns - 1 or draw(st.booleans()):
            messages.append({"role": "assistant", "content": draw(TEXT)})
    return messages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=conversations(), name=st.sampled_from(NAMES))
def test_random_conversations_render_identically_and_encode_identically_without_control_strings(
    tokenizer, messages, name
):
    template = get_template(name)
    generation = messages[-1]["role"] == "user"
    expected = template.render(messages, add_generation_prompt=generation)
    assert hf_text(tokenizer, template, messages, add_generation_prompt=generation) == expected
    assert hf_text(tokenizer, template, messages, generation, with_bos=True) == "<s>" + expected
    ours = encode_messages(tokenizer, template, messages, add_generation_prompt=generation)
    structural = [i for i in ours if i in (0, BOS, EOS)]
    assert structural == [
        i
        for s in template.segments(messages, generation)
        for i in {"bos": [BOS], "eos": [EOS]}.get(s.kind, [])
    ]
    if not any(control in message["content"] for message in messages for control in CONTROL_STRINGS):
        assert ours == tokenizer(expected)["input_ids"]
        theirs = tokenizer.apply_chat_template(
            messages,
            chat_template=template.chat_template_with_bos,
            tokenize=True,
            add_generation_prompt=generation,
            return_dict=False,
        )
        assert theirs == ours
