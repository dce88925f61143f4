"""privateGPT integration without the app: the prompt-style contract, profiles, the launcher's CLI."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from zhllama.adapters.privategpt.launcher import detect_version
from zhllama.adapters.privategpt.profile import PrivateGPTError, profile_settings
from zhllama.adapters.privategpt.prompt_style import AlpacaPromptStyle, prompt_style_class
from zhllama.cli import main
from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT, get_template
from zhllama.core.templates.exports import privategpt_spec

SPEC = privategpt_spec(get_template("alpaca-2"))


def test_completion_to_prompt_is_the_exported_spec_with_the_default_system_prompt():
    expected = SPEC["completion_to_prompt"].replace("{system}", DEFAULT_SYSTEM_PROMPT)
    assert AlpacaPromptStyle()._completion_to_prompt("你好") == expected.replace("{completion}", "你好")
    assert AlpacaPromptStyle().completion_to_prompt("你好") == expected.replace("{completion}", "你好")


def test_messages_to_prompt_follows_the_spec_turn_by_turn():
    turns = SPEC["messages_to_prompt"]
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="系统"),
        ChatMessage(role=MessageRole.USER, content="问一"),
        ChatMessage(role=MessageRole.ASSISTANT, content="答一"),
        ChatMessage(role=MessageRole.USER, content="问二"),
    ]
    expected = (
        turns["first_user_with_system"].replace("{system}", "系统").replace("{user}", "问一")
        + turns["assistant"].replace("{assistant}", "答一")
        + turns["after_assistant"]
        + turns["turn_start"]
        + turns["user"].replace("{user}", "问二")
    )
    assert AlpacaPromptStyle()._messages_to_prompt(messages) == expected
    assert not expected.startswith("<s>")


def test_the_style_subclasses_a_v06_base_and_keeps_its_public_methods():
    class AbstractPromptStyle:  # privateGPT v0.6's base: public methods call the underscored ones
        def __init__(self, *args, **kwargs) -> None:
            self.initialised = True

    style = prompt_style_class(AbstractPromptStyle)()
    assert isinstance(style, AbstractPromptStyle) and style.initialised
    assert style.completion_to_prompt("你好") == AlpacaPromptStyle().completion_to_prompt("你好")


def test_v1_style_returns_prompt_data():
    class PromptData(dict):
        def __init__(self, prompt, token_ids) -> None:
            super().__init__(prompt=prompt, token_ids=token_ids)

    class PromptStyleBase:
        def __init__(self, *args, **kwargs) -> None:
            pass

    style = prompt_style_class(PromptStyleBase, PromptData)(tokenizer=object())
    data = style._completion_to_prompt("你好")
    assert data == {"prompt": AlpacaPromptStyle().completion_to_prompt("你好"), "token_ids": None}


def test_v06_openailike_profile_uses_privategpts_default_style_against_the_server():
    settings = profile_settings("openailike", version="0.6", model="alpaca", api_base="http://h:8000/v1")
    assert settings["llm"]["mode"] == "openailike" and settings["llm"]["prompt_style"] == "default"
    assert settings["openai"] == {"api_base": "http://h:8000/v1", "api_key": "EMPTY", "model": "alpaca"}
    assert settings["llm"]["temperature"] == 0.2 and settings["llm"]["max_new_tokens"] == 512


def test_v06_llamacpp_profile_names_a_valid_style_that_the_launcher_replaces(tmp_path: Path):
    settings = profile_settings(
        "llamacpp", version="0.6", model=str(tmp_path / "m.gguf"), context_window=8192
    )
    assert settings["llm"]["prompt_style"] == "llama2" == settings["zhllama"]["replaces_prompt_style"]
    assert settings["llamacpp"]["llm_hf_model_file"] == str(tmp_path / "m.gguf")
    assert settings["zhllama"]["context"] == 8192 == settings["llm"]["context_window"]


def test_v1_llamacpp_profile_names_the_mode_the_launcher_registers(tmp_path: Path):
    settings = profile_settings("llamacpp", model=str(tmp_path / "m.gguf"))
    [model] = settings["models"]
    assert model["mode"] == "zhllama-llamacpp" and settings["llm"]["default_model"] == model["name"] == "m"
    assert settings["zhllama"]["gguf"] == str(tmp_path / "m.gguf")


def test_llamacpp_profile_needs_a_gguf():
    with pytest.raises(PrivateGPTError, match=r"`mode` llamacpp needs `model`, a GGUF file"):
        profile_settings("llamacpp")


def test_profile_command_writes_settings_zhllama_yaml(tmp_path: Path):
    result = CliRunner().invoke(
        main, ["privategpt", "profile", "--out", str(tmp_path), "--privategpt-version", "0.6", "--model", "m"]
    )
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / "settings-zhllama.yaml").read_text(encoding="utf-8"))
    assert written == profile_settings("openailike", version="0.6", model="m")


def test_version_is_detected_from_the_checkout_layout(tmp_path: Path):
    (tmp_path / "private_gpt/components/llm").mkdir(parents=True)
    assert detect_version(tmp_path) == "0.6"
    (tmp_path / "private_gpt/components/llm/prompt_styles").mkdir()
    (tmp_path / "private_gpt/components/llm/prompt_styles/registry.py").write_text("")
    assert detect_version(tmp_path) == "1"


def test_run_refuses_a_folder_that_is_not_a_checkout(tmp_path: Path):
    result = CliRunner().invoke(main, ["privategpt", "run", str(tmp_path)])
    assert result.exit_code == 1 and "not a privateGPT checkout" in result.output
