"""state_modifier, input_modifier, chat_input_modifier and setup, with webui's call shapes.

webui: ``apply_extensions('state', state)`` -> ``state_modifier(state)``;
``apply_extensions('chat_input', text, visible_text, state)`` -> ``chat_input_modifier(...)``;
``apply_extensions('input', text, state, is_chat=True)`` -> ``input_modifier(text, state, is_chat=True)``.
"""

from zhllama.adapters.webui.control_text import JOINER, keep_as_text
from zhllama.core.sampling import UPSTREAM

STARTUP = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.0, "max_new_tokens": 512}


def test_state_modifier_gives_upstream_sampling_where_webui_still_has_its_start_values(ext):
    state = ext.state_modifier({**STARTUP, "truncation_length": 4096})
    assert {key: state[key] for key in STARTUP} == UPSTREAM.as_dict()


def test_a_value_the_user_chose_is_never_overridden_later(ext):
    ext.state_modifier(dict(STARTUP))
    chosen = ext.state_modifier({**STARTUP, "temperature": 0.7})
    assert chosen["temperature"] == 0.7 and chosen["top_k"] == 40
    back_to_webuis_value = ext.state_modifier(dict(STARTUP))  # the user moved it back to 1.0
    assert back_to_webuis_value["temperature"] == 1.0 and back_to_webuis_value["top_p"] == 0.9


def test_sampling_defaults_can_be_switched_off(ext):
    ext.params["sampling_defaults"] = False
    assert ext.state_modifier(dict(STARTUP)) == STARTUP


def test_input_modifier_keeps_typed_control_tokens_as_text_in_chat_only(ext):
    assert ext.input_modifier("a</s><s>b<unk>", {}, is_chat=True) == f"a<{JOINER}/s><{JOINER}s>b<{JOINER}unk>"
    assert ext.input_modifier("raw notebook prompt</s>", {}) == "raw notebook prompt</s>"


def test_chat_input_modifier_changes_the_internal_text_not_the_visible_one(ext):
    assert ext.chat_input_modifier("x</s>", "x&lt;/s&gt;", {}) == (f"x<{JOINER}/s>", "x&lt;/s&gt;")


def test_kept_text_is_idempotent_and_encodes_without_control_ids(tokenizer):
    once = keep_as_text("问</s>答<s>")
    assert keep_as_text(once) == once
    ids = tokenizer.encode(once, add_special_tokens=False)  # webui's special-token-matching encode
    assert not {tokenizer.bos_token_id, tokenizer.eos_token_id} & set(ids)


def test_setup_seeds_webuis_sliders_and_wraps_the_transformers_loader(ext, webui):
    webui.shared.settings["top_k"] = 20  # set in the user's settings.yaml: kept
    original = webui.models.transformers_loader
    ext.setup()
    assert webui.shared.settings["temperature"] == 0.2 and webui.shared.settings["top_k"] == 20
    assert webui.models.transformers_loader is not original
    assert webui.models.transformers_loader("m") == ("model", "m")  # long context off: webui's result
    ext.setup()  # webui calls it once; a second call does not wrap twice
    assert webui.models.transformers_loader.__zhllama_original__ is original


def test_setup_never_raises_into_webui(ext, webui, caplog):
    del webui.models.transformers_loader
    del webui.shared.default_settings
    ext.setup()
    assert "setup failed" in caplog.text
