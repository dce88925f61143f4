"""`zhllama webui install`: what it writes, where, and what it refuses."""

import importlib.util
import logging
import os
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from zhllama.adapters.webui import installer
from zhllama.adapters.webui.installer import WebuiInstallError
from zhllama.adapters.webui.shim import MARKER
from zhllama.cli import main
from zhllama.core.templates import get_template
from zhllama.core.templates.exports import webui_export


def test_install_writes_the_shim_and_the_instruction_template(webui_checkout):
    report = installer.install(webui_checkout)
    script = webui_checkout / "user_data/extensions/zhllama/script.py"
    template = webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml"
    assert script.read_text() == installer.script_text()
    assert template.read_text().startswith(MARKER)
    assert [action for _, action in report.actions] == ["written", "written"]


def test_the_installed_template_is_the_tested_webui_export(webui_checkout):
    """tests/core/templates/test_exports.py renders webui_export with webui's rule."""
    installer.install(webui_checkout)
    text = (webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml").read_text()
    assert yaml.safe_load(text) == yaml.safe_load(webui_export(get_template("alpaca-2")))


def test_install_is_idempotent(webui_checkout):
    installer.install(webui_checkout)
    script = webui_checkout / "user_data/extensions/zhllama/script.py"
    before = script.stat().st_mtime_ns
    report = installer.install(webui_checkout)
    assert not report.changed
    assert script.stat().st_mtime_ns == before


def test_uninstall_removes_what_install_wrote_and_nothing_else(webui_checkout):
    other = webui_checkout / "user_data/instruction-templates/Alpaca.yaml"
    other.write_text("instruction_template: x\n")
    installer.install(webui_checkout)
    report = installer.uninstall(webui_checkout)
    assert [action for _, action in report.actions] == ["removed", "removed"]
    assert not (webui_checkout / "user_data/extensions/zhllama").exists()
    assert not (webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml").exists()
    assert other.exists()
    assert [action for _, action in installer.uninstall(webui_checkout).actions] == ["absent", "absent"]


def test_a_folder_that_is_not_a_webui_checkout_is_refused_untouched(tmp_path):
    with pytest.raises(WebuiInstallError, match="not a text-generation-webui checkout"):
        installer.install(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_user_data_symlinked_outside_the_checkout_is_refused(webui_checkout, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.rename(webui_checkout / "user_data", outside / "user_data")
    (webui_checkout / "user_data").symlink_to(outside / "user_data")
    with pytest.raises(WebuiInstallError, match="outside the webui checkout"):
        installer.install(webui_checkout)
    assert not (outside / "user_data" / "extensions").exists()


def test_another_extension_named_zhllama_is_never_overwritten(webui_checkout):
    script = webui_checkout / "user_data/extensions/zhllama/script.py"
    script.parent.mkdir(parents=True)
    script.write_text("params = {}\n")
    with pytest.raises(WebuiInstallError, match="not written by zhllama"):
        installer.install(webui_checkout)
    assert script.read_text() == "params = {}\n"
    installer.uninstall(webui_checkout)
    assert script.read_text() == "params = {}\n"


def test_a_template_the_user_wrote_is_kept_as_a_backup(webui_checkout):
    template = webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml"
    template.write_text("instruction_template: mine\n")
    installer.install(webui_checkout)
    assert (template.parent / "Chinese-Alpaca-2.yaml.bak").read_text() == "instruction_template: mine\n"
    assert template.read_text() == installer.template_text()


@pytest.mark.parametrize("kind", ["script", "template"])
def test_a_file_edited_under_the_marker_line_is_kept_as_a_backup_when_replaced(webui_checkout, kind):
    installer.install(webui_checkout)
    path = installer.targets(webui_checkout.resolve())[kind]
    mine = path.read_text() + "# my change\n"
    path.write_text(mine)
    report = installer.install(webui_checkout)
    assert (path.parent / (path.name + ".bak")).read_text() == mine
    ours = {"script": installer.script_text(), "template": installer.template_text()}
    assert path.read_text() == ours[kind]
    assert (str(path), "replaced") in report.actions


def test_an_older_install_without_a_checksum_is_kept_as_a_backup(webui_checkout):
    path = webui_checkout / "user_data/instruction-templates/Chinese-Alpaca-2.yaml"
    older = f"{MARKER}: written by `zhllama webui install`\ninstruction_template: old\n"
    path.write_text(older)
    installer.install(webui_checkout)
    assert (path.parent / "Chinese-Alpaca-2.yaml.bak").read_text() == older


def test_uninstall_keeps_an_edited_copy(webui_checkout):
    installer.install(webui_checkout)
    script = webui_checkout / "user_data/extensions/zhllama/script.py"
    script.write_text(script.read_text() + "# mine\n")
    installer.uninstall(webui_checkout)
    assert not script.exists() and (script.parent / "script.py.bak").read_text().endswith("# mine\n")


def test_the_cli_installs_and_uninstalls(webui_checkout, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["webui", "install", str(webui_checkout)])
    assert result.exit_code == 0, result.output
    assert "written" in result.output and "--extensions zhllama" in result.output
    result = runner.invoke(main, ["webui", "install", "--uninstall", str(webui_checkout)])
    assert result.exit_code == 0 and "removed" in result.output
    result = runner.invoke(main, ["webui", "install", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "not a text-generation-webui checkout" in result.output


def _load_like_webui(path):
    """webui's loader for a user extension: spec_from_file_location + exec_module."""
    spec = importlib.util.spec_from_file_location("user_ext_zhllama", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shim_re_exports_the_installed_packages_hooks(webui_checkout):
    from zhllama.adapters.webui import extension

    installer.install(webui_checkout)
    module = _load_like_webui(webui_checkout / "user_data/extensions/zhllama/script.py")
    for hook in ("custom_generate_chat_prompt", "state_modifier", "input_modifier", "chat_input_modifier"):
        assert getattr(module, hook) is getattr(extension, hook)
    assert module.params is extension.params  # webui's saved settings land in the real params


def test_without_zhllama_the_shim_logs_what_to_install_and_loads_without_hooks(
    webui_checkout, monkeypatch, caplog
):
    installer.install(webui_checkout)
    monkeypatch.setitem(sys.modules, "zhllama.adapters.webui.extension", None)  # import fails
    with caplog.at_level(logging.ERROR, logger="textgen"):
        module = _load_like_webui(webui_checkout / "user_data/extensions/zhllama/script.py")
    repo = Path(__file__).resolve().parents[3]
    assert "zhllama extension disabled" in caplog.text and f"pip install '{repo}[webui]'" in caplog.text
    assert module.params == {"display_name": "zhllama (not installed)"}
    assert not hasattr(module, "custom_generate_chat_prompt")
