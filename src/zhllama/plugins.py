"""The plugin manager: built-in plugins, third-party entry points, and the registries they fill.

Built-in plugins are ordinary modules with ``@hookimpl`` functions, registered from
``DEFAULT_PLUGINS`` exactly as a third-party plugin is registered from the ``zhllama``
entry-point group. ``ZHLLAMA_LOAD_PLUGINS=a,b`` limits which plugins load (by entry-point
name, distribution name, or a built-in's short name such as ``langchain``); the core's own
plugins (``CORE_PLUGINS``) always load. Loading happens on first use and only once.
"""

import importlib
import importlib.metadata
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from zhllama import hookspecs
from zhllama.errors import PluginError

ENTRY_POINT_GROUP = "zhllama"
CORE_PLUGINS = (
    "zhllama.core.templates.builtin",
    "zhllama.core.rope_scaling.builtin",
    "zhllama.core.kernels.builtin",
)
DEFAULT_PLUGINS = (
    *CORE_PLUGINS,
    "zhllama.adapters.langchain",
    "zhllama.adapters.llamaindex",
    "zhllama.adapters.vllm_rope",
    "zhllama.adapters.textgen_webui",
    "zhllama.adapters.privategpt",
)

pm = pluggy.PluginManager("zhllama")
pm.add_hookspecs(hookspecs)

_loaded = False


def _allow_list() -> set[str] | None:
    value = os.environ.get("ZHLLAMA_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _short_name(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1]


def load_plugins() -> None:
    """Register the built-in and installed plugins once per process."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    allowed = _allow_list()
    for module_name in DEFAULT_PLUGINS:
        if (
            allowed is not None
            and module_name not in CORE_PLUGINS
            and not {module_name, _short_name(module_name)} & allowed
        ):
            continue
        if pm.get_plugin(module_name) is None:
            pm.register(importlib.import_module(module_name), module_name)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else entry_point.name
        if allowed is not None and not {entry_point.name, distribution} & allowed:
            continue
        if pm.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {entry_point.name!r} from {distribution!r} failed to import: {exc}. "
                f"Fix or uninstall it, or leave it out with ZHLLAMA_LOAD_PLUGINS."
            ) from exc
        pm.register(plugin, entry_point.name)


@dataclass(frozen=True)
class Registration:
    """One thing a plugin registered through a ``register_*`` hook."""

    name: str
    value: Any
    plugin: str


def registrations(hook_name: str) -> dict[str, Registration]:
    """Collect what every plugin registers through the register-callback hook ``hook_name``.

    A callback takes ``register(obj)`` (named by ``obj.name``) or ``register(name, obj)``.
    Two plugins registering the same name is an error that names both.
    """
    load_plugins()
    found: dict[str, Registration] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)

        def register(*args: Any, _plugin: str = plugin_name) -> None:
            if len(args) == 1:
                name, value = getattr(args[0], "name", None), args[0]
            elif len(args) == 2:
                name, value = args
            else:
                raise PluginError(
                    f"{hook_name}: register() takes (obj) or (name, obj), got {len(args)} arguments"
                )
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {_plugin!r} registered an unnamed object through {hook_name}")
            if name in found:
                raise PluginError(
                    f"{name!r} is registered twice through {hook_name}: by {found[name].plugin!r} and by "
                    f"{_plugin!r}. Rename one or leave a plugin out with ZHLLAMA_LOAD_PLUGINS."
                )
            found[name] = Registration(name, value, _plugin)

        impl.function(register=register)
    return found


def registry(hook_name: str) -> dict[str, Any]:
    """``registrations`` reduced to name -> registered object."""
    return {name: entry.value for name, entry in registrations(hook_name).items()}


def first_result(hook_name: str, **kwargs: Any) -> Any:
    """Call a ``firstresult`` selector hook once plugins are loaded."""
    load_plugins()
    hook: Callable[..., Any] = getattr(pm.hook, hook_name)
    return hook(**kwargs)


def plugin_names() -> list[str]:
    """Names of the registered plugins, built-in first."""
    load_plugins()
    return [name for name, _ in pm.list_name_plugin()]
