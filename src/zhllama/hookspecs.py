"""The plugin hooks of zhllama: markers and specifications, nothing else.

Hooks take a ``register`` callback (the simonw/llm style): a plugin calls it once per thing it
provides, extending the core's built-in registries (which need no plugin to work).
``docs/plugins.md`` documents each hook; a test keeps the two in step.
"""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("zhllama")
hookimpl = pluggy.HookimplMarker("zhllama")


@hookspec
def register_templates(register: Any) -> None:
    """Register prompt templates: call ``register(template)`` with a ``zhllama.core.templates.Template``."""


@hookspec
def register_rope_methods(register: Any) -> None:
    """Register RoPE scaling methods: call ``register(name, method)`` once per method name."""


@hookspec
def register_adapters(register: Any) -> None:
    """Register ecosystem adapters: call ``register(adapter)`` with a ``zhllama.adapters.Adapter``."""


@hookspec(firstresult=True)
def choose_template(config: dict) -> str | None:
    """Name the prompt template for a model's ``config.json`` dict, or return None to pass."""
