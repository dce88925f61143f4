"""Profiles per release line: what each holds, which line a checkout is, and what is refused with why."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from zhllama.adapters.privategpt.profile import PrivateGPTError, detect_version, profile_settings
from zhllama.cli import main
from zhllama.core.sampling import UPSTREAM

UPSTREAM_SAMPLING = {
    "temperature": UPSTREAM.temperature,
    "max_new_tokens": UPSTREAM.max_new_tokens,
    "top_p": UPSTREAM.top_p,
    "top_k": UPSTREAM.top_k,
    "repetition_penalty": UPSTREAM.repetition_penalty,
    "min_p": 0.0,
}


def test_the_release_line_is_read_from_each_real_checkout(apps: Path):
    assert detect_version(apps / "private-gpt-0.6.2") == "0.6"
    assert detect_version(apps / "private-gpt-1") == "1"


def test_a_checkout_without_version_txt_is_told_apart_by_layout(tmp_path: Path):
    (tmp_path / "private_gpt/components/llm").mkdir(parents=True)
    assert detect_version(tmp_path) == "0.6"
    (tmp_path / "private_gpt/components/llm/prompt_styles").mkdir()
    (tmp_path / "private_gpt/components/llm/prompt_styles/registry.py").write_text("")
    assert detect_version(tmp_path) == "1"


def test_another_release_line_and_a_non_checkout_are_refused(tmp_path: Path):
    with pytest.raises(PrivateGPTError, match="not a privateGPT checkout"):
        detect_version(tmp_path)
    (tmp_path / "private_gpt").mkdir()
    (tmp_path / "version.txt").write_text("0.5.0\n")
    with pytest.raises(PrivateGPTError, match=r"privateGPT 0\.5\.0: zhllama's profiles are for"):
        detect_version(tmp_path)


def test_the_profile_command_writes_the_schema_of_the_checkouts_own_line(checkout, write_profile):
    old, new = checkout("0.6"), checkout("1")
    assert "privateGPT 0.6.x" in write_profile(old, "--model", "alpaca")
    assert "PGPT_PROFILES=zhllama private-gpt serve" in write_profile(new, "--model", "alpaca")
    written = {
        folder: yaml.safe_load((folder / "settings-zhllama.yaml").read_text()) for folder in (old, new)
    }
    assert written[old] == profile_settings("openailike", version="0.6", model="alpaca")
    assert written[new] == profile_settings("openailike", version="1", model="alpaca")


def test_a_settings_folder_that_is_not_a_checkout_needs_the_version(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(main, ["privategpt", "profile", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "pass --privategpt-version (0.6 or 1)" in result.output
    result = runner.invoke(
        main, ["privategpt", "profile", "--out", str(tmp_path), "--privategpt-version", "0.6"]
    )
    assert result.exit_code == 0 and (tmp_path / "settings-zhllama.yaml").is_file()


def test_v06_talks_to_a_server_with_privategpts_default_style_and_upstream_temperature():
    settings = profile_settings("openailike", version="0.6", model="alpaca", api_base="http://h:8000/v1")
    assert settings["llm"]["mode"] == "openailike" and settings["llm"]["prompt_style"] == "default"
    assert settings["openai"] == {"api_base": "http://h:8000/v1", "api_key": "EMPTY", "model": "alpaca"}
    assert (settings["llm"]["temperature"], settings["llm"]["max_new_tokens"]) == (0.2, 512)


def test_v06_in_process_llamacpp_is_refused_naming_the_route_that_works(checkout, tmp_path: Path):
    with pytest.raises(PrivateGPTError, match=r"pins transformers 4 and llama-index-core 0\.10") as refused:
        profile_settings("llamacpp", version="0.6", model=str(tmp_path / "m.gguf"))
    assert "zhllama.backends.llama_cpp_server" in str(refused.value) and "--mode openailike" in str(
        refused.value
    )
    folder = checkout("0.6")
    runner = CliRunner()
    result = runner.invoke(
        main, ["privategpt", "profile", "--out", str(folder), "--mode", "llamacpp", "--model", "m"]
    )
    assert (
        result.exit_code == 1
        and "Error: --mode llamacpp is not possible for privateGPT 0.6.x" in result.output
    )
    result = runner.invoke(main, ["privategpt", "run", str(folder)])
    assert result.exit_code == 1 and "cannot start privateGPT 0.6.x" in result.output
    assert "Traceback" not in result.output and not (folder / "settings-zhllama.yaml").exists()


def test_v1_models_sample_as_upstream_not_as_privategpts_defaults():
    for mode, model in (("openailike", "alpaca"), ("llamacpp", "/models/alpaca.gguf")):
        [entry] = profile_settings(mode, version="1", model=model)["models"]
        assert entry["sampling_params"] == UPSTREAM_SAMPLING


def test_v1_llamacpp_names_the_mode_the_launcher_registers(tmp_path: Path):
    settings = profile_settings("llamacpp", version="1", model=str(tmp_path / "m.gguf"), context_window=1024)
    [model] = settings["models"]
    assert model["mode"] == "zhllama-llamacpp" and settings["llm"]["default_model"] == model["name"] == "m"
    assert settings["zhllama"]["gguf"] == str(tmp_path / "m.gguf") and settings["zhllama"]["context"] == 1024


def test_llamacpp_needs_a_gguf_and_run_needs_the_profile(checkout):
    with pytest.raises(PrivateGPTError, match=r"`mode` llamacpp needs `model`, a GGUF file"):
        profile_settings("llamacpp", version="1")
    result = CliRunner().invoke(main, ["privategpt", "run", str(checkout("1")), "serve"])
    assert result.exit_code == 1 and "no settings-zhllama.yaml" in result.output


def test_run_refuses_a_folder_that_is_not_a_checkout(tmp_path: Path):
    result = CliRunner().invoke(main, ["privategpt", "run", str(tmp_path)])
    assert result.exit_code == 1 and "not a privateGPT checkout" in result.output


def test_a_context_that_is_not_positive_is_refused_in_the_options_terms(checkout):
    result = CliRunner().invoke(
        main, ["privategpt", "profile", "--out", str(checkout("1")), "--context", "0"]
    )
    assert result.exit_code == 1 and "Error: --context must be a positive number of tokens" in result.output
