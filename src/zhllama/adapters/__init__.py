"""Adapters inject the core into one ecosystem each; every adapter is a plugin.

An adapter reports itself without importing its ecosystem: whether the package is importable,
which version is installed, and what it injects. Each adapter package exports its public names
lazily (``from zhllama.adapters.langchain import ChatZhllama`` imports LangChain only then).
"""

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def adapter_hook(adapter: "Adapter") -> Callable[..., None]:
    """The ``register_adapters`` hook implementation of an adapter package: it registers ``adapter``.

    Use as ``register_adapters = adapter_hook(ADAPTER)`` at module level (pluggy finds hooks by name).
    """
    from zhllama.hookspecs import hookimpl

    @hookimpl
    def register_adapters(register: Callable[..., None]) -> None:
        register(adapter)

    return register_adapters


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each of ``names`` (name -> module) on
    first access, so the package itself stays light."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


@dataclass(frozen=True)
class Adapter:
    """What ``zhllama doctor`` knows of an adapter."""

    name: str
    module: str
    distribution: str
    injects: str
    extra: str
    install_hint: str | None = None
    """How to get the ecosystem when ``pip install 'zhllama[EXTRA]'`` is not enough (an application)."""

    def importable(self) -> bool:
        """True when the ecosystem's top-level module can be found (it is not imported)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def version(self) -> str | None:
        """The installed version of the ecosystem's distribution, or None."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def status(self) -> dict[str, object]:
        """A JSON-ready report: name, ecosystem module, availability, version, what it injects."""
        importable = self.importable()
        return {
            "name": self.name,
            "ecosystem": self.module,
            "importable": importable,
            "version": self.version() if importable else None,
            "injects": self.injects,
            "install": self.install_hint or f"pip install 'zhllama[{self.extra}]'",
        }
