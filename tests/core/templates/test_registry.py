"""The template registry: the built-in templates in a plain dict, plugins' templates merged in."""

import pytest

from zhllama import plugins
from zhllama.core.templates import Template, get_template, list_templates
from zhllama.core.templates.builtin import BUILTIN_TEMPLATES
from zhllama.errors import ModelConfigError, TemplateError


def test_builtins_come_from_zhllama_itself_in_the_merged_registry():
    registered = plugins.merged("register_templates", BUILTIN_TEMPLATES)
    for name in ("alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"):
        assert registered[name].plugin == plugins.BUILTIN
        assert registered[name].value is get_template(name)


def test_list_templates_returns_every_template_sorted_by_name():
    names = [template.name for template in list_templates()]
    assert names == sorted(names)
    assert {"alpaca-2", "alpaca-2-long", "alpaca", "llama-2-chat"} <= set(names)


def test_default_template_is_alpaca_2():
    assert get_template().name == "alpaca-2"


def test_unknown_name_lists_the_known_names():
    with pytest.raises(TemplateError, match=r"unknown template 'nope'.*alpaca-2.*llama-2-chat"):
        get_template("nope")


def test_a_third_party_plugin_registers_a_template_the_same_way():
    class Plugin:
        @plugins.hookspecs.hookimpl
        def register_templates(self, register):
            register(
                Template(
                    name="third-party",
                    description="test",
                    first_user_format="<{system}>{user}|",
                    user_format="{user}|",
                    assistant_format="{assistant}",
                )
            )

    plugin = Plugin()
    plugins.load_plugins()
    plugins.pm.register(plugin, "test-third-party")
    try:
        assert (
            get_template("third-party").render(
                [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
            )
            == "<s>u|"
        )
    finally:
        plugins.pm.unregister(plugin)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"first_user_format": "{user}"}, "first_user_format must hold"),
        ({"first_user_format": "{user}{system}"}, "must come before"),
        ({"user_format": "no placeholder"}, "user_format must hold"),
        ({"assistant_format": "x"}, "assistant_format must hold"),
    ],
)
def test_a_malformed_template_is_rejected_when_defined(fields, fragment):
    base = {
        "name": "bad",
        "description": "",
        "first_user_format": "{system}{user}",
        "user_format": "{user}",
        "assistant_format": "{assistant}",
    }
    with pytest.raises(TemplateError, match=fragment):
        Template(**{**base, **fields})


def test_the_family_rule_tells_the_generations_apart_by_vocabulary(tiny_model_dir, tmp_path):
    from zhllama.core.templates import template_for_config, template_for_model

    assert template_for_model(tiny_model_dir) == "alpaca-2", "55,296 pieces: Chinese-Alpaca-2"
    assert template_for_config({"model_type": "llama", "vocab_size": 49954}) == "alpaca"
    (tmp_path / "config.json").write_text('{"model_type": "mistral"}')
    assert template_for_model(tmp_path) == "alpaca-2", "no plugin claims it: the default"
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelConfigError, match=r"not valid JSON.*restore"):
        template_for_model(tmp_path)


def test_a_plugins_choose_template_answer_comes_first():
    from zhllama.core.templates import template_for_config

    class Chooser:
        @plugins.hookspecs.hookimpl
        def choose_template(self, config):
            return "llama-2-chat" if config.get("vocab_size") == 32000 else None

    chooser = Chooser()
    plugins.pm.register(chooser, "chooser")
    try:
        assert template_for_config({"vocab_size": 32000}) == "llama-2-chat"
        assert template_for_config({"vocab_size": 55296}) == "alpaca-2"
    finally:
        plugins.pm.unregister(chooser)
