"""The plugin manager: the built-in adapters, third-party entry points, and what they register.

The core's own templates and RoPE methods are plain dicts in the core (as transformers'
``ROPE_INIT_FUNCTIONS``); looking one of them up never loads a plugin. Plugins *extend* those
registries: ``merged(hook_name, builtins)`` adds what the plugins register through a
``register_*`` hook, computed once per process (again only after a plugin is registered or
unregistered).

Built-in adapters are ordinary modules with ``@hookimpl`` functions, registered from
``DEFAULT_PLUGINS`` exactly as a third-party plugin is registered from the ``zhllama``
entry-point group. ``ZHLLAMA_LOAD_PLUGINS=a,b`` limits which plugins load (by entry-point name,
distribution name, or a built-in adapter's module or short name such as ``langchain``). Loading
happens on first use and only once.

A plugin that fails (it does not import, its hook raises, it registers something unnamed or a
name that is taken) is reported and skipped: ``problems()`` lists what happened, a
``PluginWarning`` says it once, and everything else keeps working.
"""

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from zhllama import hookspecs

ENTRY_POINT_GROUP = "zhllama"
BUILTIN = "zhllama"
"""The plugin name of what the core itself provides (its templates and RoPE methods)."""
DEFAULT_PLUGINS = (
    "zhllama.adapters.langchain",
    "zhllama.adapters.llamaindex",
    "zhllama.adapters.vllm",
    "zhllama.adapters.webui",
    "zhllama.adapters.privategpt",
)


class PluginWarning(UserWarning):
    """A plugin failed and was skipped; ``zhllama doctor`` lists why."""


@dataclass(frozen=True)
class Registration:
    """One thing registered through a ``register_*`` hook, and who registered it."""

    name: str
    value: Any
    plugin: str


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager; registering or unregistering a plugin forgets the merged registries."""

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        _merged.clear()
        return super().register(plugin, name)

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        _merged.clear()
        return super().unregister(plugin, name)


_merged: dict[str, dict[str, Registration]] = {}
_problems: list[str] = []
_loaded = False

pm = _PluginManager("zhllama")
pm.add_hookspecs(hookspecs)


def _report(problem: str) -> None:
    if problem not in _problems:
        _problems.append(problem)
        warnings.warn(problem, PluginWarning, stacklevel=3)


def problems() -> list[str]:
    """What went wrong with plugins so far in this process (each was skipped)."""
    return list(_problems)


def _allow_list() -> set[str] | None:
    value = os.environ.get("ZHLLAMA_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def load_plugins() -> None:
    """Register the built-in adapters and the installed plugins, once per process."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    allowed = _allow_list()
    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if allowed is not None and not {module_name, short} & allowed:
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
            pm.register(entry_point.load(), entry_point.name)
        except Exception as exc:
            _report(
                f"plugin {entry_point.name!r} from {distribution!r} failed to import and was skipped: "
                f"{exc}. Fix or uninstall it, or leave it out with ZHLLAMA_LOAD_PLUGINS."
            )


def _collect(hook_name: str, found: dict[str, Registration]) -> None:
    """Add every plugin's registrations through ``hook_name`` to ``found``; failures are skipped."""
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        own: dict[str, Registration] = {}

        def register(*args: Any, _plugin: str = plugin, _own: dict = own) -> None:
            if len(args) == 1:
                name, value = getattr(args[0], "name", None), args[0]
            elif len(args) == 2:
                name, value = args
            else:
                raise TypeError(f"register() takes (obj) or (name, obj), got {len(args)} arguments")
            if not isinstance(name, str) or not name:
                raise TypeError(f"registered an unnamed {type(value).__name__}")
            _own[name] = Registration(name, value, _plugin)

        try:
            impl.function(register=register)
        except Exception as exc:
            _report(f"plugin {plugin!r} failed in {hook_name} and was skipped: {exc}")
            continue
        for name, entry in own.items():
            if name in found:
                _report(
                    f"{name!r} is registered twice through {hook_name}: by {found[name].plugin!r} and by "
                    f"{plugin!r}; the second was skipped. Rename one, or leave a plugin out with "
                    "ZHLLAMA_LOAD_PLUGINS."
                )
                continue
            found[name] = entry


def merged(
    hook_name: str, builtins: Mapping[str, Any], check: Callable[[Any], bool] | None = None
) -> dict[str, Registration]:
    """``builtins`` (plugin ``"zhllama"``) plus what plugins register through ``hook_name``.

    Computed once and cached. ``check(value)`` rejects a registration of the wrong kind (it is
    reported and skipped). A plugin's name that clashes with a built-in or another plugin's is
    reported and skipped: the first registration keeps the name.
    """
    if hook_name not in _merged:
        load_plugins()
        found = {name: Registration(name, value, BUILTIN) for name, value in builtins.items()}
        _collect(hook_name, found)
        if check is not None:
            for name, entry in list(found.items()):
                if entry.plugin != BUILTIN and not check(entry.value):
                    _report(
                        f"plugin {entry.plugin!r} registered {name!r} through {hook_name} as a "
                        f"{type(entry.value).__name__}, which is not what the hook takes; it was skipped"
                    )
                    del found[name]
        _merged[hook_name] = found
    return dict(_merged[hook_name])


def first_result(hook_name: str, **kwargs: Any) -> Any:
    """Call a ``firstresult`` selector hook; a plugin that raises is reported and gives no answer."""
    load_plugins()
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        try:
            answer = impl.function(**kwargs)
        except Exception as exc:
            _report(f"plugin {pm.get_name(impl.plugin)!r} failed in {hook_name} and was skipped: {exc}")
            continue
        if answer is not None:
            return answer
    return None


def plugin_names() -> list[str]:
    """Names of the registered plugins, built-in adapters first."""
    load_plugins()
    return [name for name, _ in pm.list_name_plugin()]
