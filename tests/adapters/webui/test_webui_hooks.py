"""state_modifier, input_modifier, chat_input_modifier and setup, with webui's call shapes.

webui: ``apply_extensions('state', state)`` -> ``state_modifier(state)``;
``apply_extensions('chat_input', text, visible_text, state)`` -> ``chat_input_modifier(...)``;
``apply_extensions('input', text, state, is_chat=True)`` -> ``input_modifier(text, state, is_chat=True)``.
"""

from zhllama.adapters.webui.control_text import JOINER, keep_as_text
from zhllama.core.sampling import UPSTREAM

STARTUP = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.0, "max_new_tokens": 512}


def test_setup_seeds_the_ui_sliders_and_the_api_defaults_that_webui_still_holds(ext, webui):
    webui.shared.settings["top_k"] = 20  # set in the user's settings.yaml: kept
    webui.shared.args.top_p = 0.5
    webui.shared.provided_arguments = ["top_p"]  # --top-p 0.5 on the command line: kept
    ext.setup()
    settings = {key: webui.shared.settings[key] for key in STARTUP}
    assert settings == {**UPSTREAM.as_dict(), "top_k": 20}
    args = webui.shared.args
    assert (args.temperature, args.top_k, args.top_p, args.repetition_penalty) == (0.2, 40, 0.5, 1.1)


def test_state_modifier_leaves_every_requests_sampling_as_it_came(ext):
    """A request's explicit value (webui's own 1.0 included) is the request's: nothing is remembered."""
    ext.setup()
    explicit = {**STARTUP, "truncation_length": 4096}
    assert ext.state_modifier(dict(explicit)) == explicit
    assert ext.state_modifier({**explicit, "temperature": 0.7})["temperature"] == 0.7
    assert ext.state_modifier(dict(explicit)) == explicit  # the 0.7 before did not stick


def test_sampling_defaults_can_be_switched_off(ext, webui):
    ext.params["sampling_defaults"] = False
    ext.setup()
    assert webui.shared.settings["temperature"] == 1.0 and webui.shared.args.temperature == 1.0


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


def test_setup_wraps_the_transformers_loader_once(ext, webui):
    original = webui.models.transformers_loader
    ext.setup()
    assert webui.models.transformers_loader is not original
    assert webui.models.transformers_loader("m") == ("model", "m")  # not the family, no plan: webui's result
    ext.setup()  # webui calls it once; a second call does not wrap twice
    assert webui.models.transformers_loader.__zhllama_original__ is original


def test_setup_never_raises_into_webui(ext, webui, caplog):
    del webui.models.transformers_loader
    del webui.shared.default_settings
    ext.setup()
    assert "setup failed" in caplog.text
