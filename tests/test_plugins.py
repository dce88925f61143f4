"""The plugin system: built-in adapters load like third-party plugins, entry points are found, the
allow-list limits loading, loading is idempotent, the core's own registries need no plugin, and a
failing or clashing plugin is reported and skipped while everything else keeps working."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zhllama import plugins
from zhllama.hookspecs import hookimpl

PLUGIN_SOURCE = textwrap.dedent(
    """
    from zhllama.adapters import Adapter
    from zhllama.core.templates import Template
    from zhllama.hookspecs import hookimpl


    @hookimpl
    def register_templates(register):
        register(Template(
            name="shout",
            description="Alpaca-2 with a loud system prompt",
            first_user_format="[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST]",
            user_format="[INST] {user} [/INST]",
            assistant_format=" {assistant}",
            default_system_prompt="你要大声回答。",
        ))


    @hookimpl
    def register_adapters(register):
        register(Adapter(name="toy", module="json", distribution="zhllama-toy",
                         injects="nothing", extra="toy"))
    """
)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """A site directory holding a small third-party distribution with a `zhllama` entry point."""
    site = tmp_path_factory.mktemp("site")
    (site / "zhllama_toy.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    dist_info = site / "zhllama_toy-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: zhllama-toy\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[zhllama]\ntoy = zhllama_toy\n")
    (dist_info / "RECORD").write_text("")
    return site


def run_python(code: str, site: Path | None = None, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "ZHLLAMA_LOAD_PLUGINS"}
    if site is not None:
        environment["PYTHONPATH"] = str(site)
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


REPORT = (
    "import json; from zhllama import plugins; from zhllama.core.templates import templates; "
    "print(json.dumps({'plugins': plugins.plugin_names(), 'templates': sorted(templates()), "
    "'adapters': sorted(plugins.merged('register_adapters', {}))}))"
)


def test_builtin_adapters_are_registered_from_default_plugins():
    assert set(plugins.DEFAULT_PLUGINS) <= set(plugins.plugin_names())
    adapters = plugins.merged("register_adapters", {})
    assert set(adapters) == {"langchain", "llamaindex", "vllm", "webui", "privategpt"}
    assert {entry.plugin for entry in adapters.values()} <= set(plugins.DEFAULT_PLUGINS)


def test_a_third_party_plugin_is_discovered_through_its_entry_point_and_adds_a_template(plugin_site):
    report = json.loads(run_python(REPORT, plugin_site))
    assert "toy" in report["plugins"]
    assert "shout" in report["templates"]
    assert "toy" in report["adapters"]
    rendered = run_python(
        "from zhllama.core.templates import get_template; "
        "print(get_template('shout').render([{'role': 'user', 'content': '你好'}]), end='')",
        plugin_site,
    )
    assert rendered == "[INST] <<SYS>>\n你要大声回答。\n<</SYS>>\n\n你好 [/INST]"


def test_the_allow_list_limits_which_plugins_load(plugin_site):
    only_toy = json.loads(run_python(REPORT, plugin_site, ZHLLAMA_LOAD_PLUGINS="toy"))
    assert only_toy["adapters"] == ["toy"]
    assert "alpaca-2" in only_toy["templates"], "the core's own templates need no plugin"

    by_short_name = json.loads(run_python(REPORT, plugin_site, ZHLLAMA_LOAD_PLUGINS="langchain"))
    assert by_short_name["adapters"] == ["langchain"]
    assert "shout" not in by_short_name["templates"]

    none = json.loads(run_python(REPORT, plugin_site, ZHLLAMA_LOAD_PLUGINS=""))
    assert none["adapters"] == []


def test_importing_zhllama_loads_no_plugin_until_a_registry_is_used():
    out = run_python("import zhllama, zhllama.plugins as p; print(p.pm.get_plugins() == set())")
    assert out.strip() == "True"


def test_built_in_templates_and_rope_methods_are_found_without_loading_any_plugin():
    out = run_python(
        "import zhllama.plugins as p; from zhllama.core.templates import get_template; "
        "from zhllama.core.rope_scaling import get_method, inv_freq; get_template('alpaca-2'); "
        "get_method('auto'); inv_freq('yarn', {'factor': 4.0}, head_dim=32, base=1e4, "
        "max_position_embeddings=256, seq_len=None); print(p.pm.get_plugins() == set())"
    )
    assert out.strip() == "True"


def test_loading_is_idempotent():
    plugins.load_plugins()
    before = plugins.plugin_names()
    plugins.load_plugins()
    assert plugins.plugin_names() == before


class _Clash:
    def __init__(self, adapter):
        self.adapter = adapter

    @hookimpl
    def register_adapters(self, register):
        register(self.adapter)


def test_a_second_plugin_registering_a_taken_name_is_reported_and_skipped():
    first = plugins.merged("register_adapters", {})["langchain"]
    clash = _Clash(first.value)
    plugins.pm.register(clash, "clash")
    try:
        with pytest.warns(plugins.PluginWarning, match=r"'langchain' is registered twice.*langchain.*clash"):
            adapters = plugins.merged("register_adapters", {})
        assert adapters["langchain"].plugin == first.plugin
        assert any("registered twice" in problem for problem in plugins.problems())
    finally:
        plugins.pm.unregister(clash)


class _Shadow:
    @hookimpl
    def register_rope_methods(self, register):
        register("yarn", object())


def test_a_plugin_cannot_replace_a_built_in_method_or_register_the_wrong_kind():
    from zhllama.core.rope_scaling import get_method, methods
    from zhllama.core.rope_scaling.registry import METHODS

    shadow = _Shadow()
    plugins.pm.register(shadow, "shadow")
    try:
        with pytest.warns(plugins.PluginWarning, match="'yarn' is registered twice"):
            assert methods()["yarn"] is METHODS["yarn"]
        assert get_method("yarn") is METHODS["yarn"]
    finally:
        plugins.pm.unregister(shadow)


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_works(tmp_path):
    (tmp_path / "zhllama_broken.py").write_text("raise RuntimeError('boom')\n")
    dist_info = tmp_path / "zhllama_broken-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: zhllama-broken\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[zhllama]\nbroken = zhllama_broken\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = (
        "from zhllama import plugins; from zhllama.core.rope_scaling import methods; "
        "from zhllama.core.templates import templates; "
        "print(sorted(methods()) and sorted(templates()) and plugins.problems())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "plugin 'broken' from 'zhllama-broken' failed to import and was skipped: boom" in result.stdout
    assert "PluginWarning" in result.stderr
