"""Install zhllama into a privateGPT checkout before it builds its components, then run it.

privateGPT has no plugin entry points, so the launcher imports its modules and changes what they
look up, before the dependency injector builds the LLM component:

- v0.6.x: ``get_prompt_style`` is bound in two modules, ``components.llm.prompt_helper`` (where it is
  defined) and ``components.llm.llm_component`` (``from ... import get_prompt_style``); both names are
  replaced by a wrapper that returns the Alpaca-2 style for the name the profile's
  ``zhllama.replaces_prompt_style`` gives (``llama2``: the settings' ``Literal`` accepts nothing new) and
  defers to the original otherwise. When the profile asks for a context length or RoPE method, the
  ``LlamaCPP`` class that ``llm_component`` imports from ``llama_index.llms.llama_cpp`` is replaced by a
  subclass that adds the RoPE plan's llama.cpp settings (``llama_cpp_kwargs``) to ``model_kwargs``.
- v1.x: its registries: ``register_prompt_style_factory("zhllama-alpaca-2", ...)`` and
  ``register_llm("zhllama-llamacpp", ...)``, whose factory builds ``ZhllamaLLM`` on ``LlamaCppBackend``
  (prompt as safe ids, RoPE plan applied by ``from_gguf``).

``install()`` returns what it changed and ``uninstall(installed)`` undoes it. ``run(dir, argv)`` is
``zhllama privategpt run DIR``: it puts the checkout on ``sys.path``, adds the ``zhllama`` profile to
``PGPT_PROFILES``, installs, and runs ``python -m private_gpt`` in this process.
"""

import importlib
import os
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.adapters.privategpt.profile import (
    PROFILE_NAME,
    V06_STYLE_REPLACED,
    V1_LLM_MODE,
    V1_PROMPT_STYLE,
    PrivateGPTError,
)
from zhllama.core.templates import DEFAULT_TEMPLATE

_V1_REGISTRY = "private_gpt.components.llm.prompt_styles.registry"
_V06_HELPER = "private_gpt.components.llm.prompt_helper"
_V06_COMPONENT = "private_gpt.components.llm.llm_component"


@dataclass
class Installed:
    """What ``install`` changed: ``(module, attribute, previous value)`` triples and registry keys."""

    version: str
    patches: list[tuple[Any, str, Any]] = field(default_factory=list)
    registered: list[tuple[dict, str]] = field(default_factory=list)


def detect_version(root: str | os.PathLike | None = None) -> str:
    """``"1"`` when the checkout (or the importable ``private_gpt``) has v1's registries, else ``"0.6"``."""
    if root is not None:
        base = Path(root) / "private_gpt"
        if not base.is_dir():
            raise PrivateGPTError(f"{root} is not a privateGPT checkout: it has no private_gpt/ folder")
        return "1" if (base / "components/llm/prompt_styles/registry.py").is_file() else "0.6"
    try:
        importlib.import_module(_V1_REGISTRY)
        return "1"
    except ModuleNotFoundError as exc:
        if exc.name is not None and not exc.name.startswith("private_gpt"):
            raise
        return "0.6"


def zhllama_settings() -> dict[str, Any]:
    """The ``zhllama:`` section of privateGPT's merged active profiles (empty when absent)."""
    loader = importlib.import_module("private_gpt.settings.settings_loader")
    return dict(loader.load_active_settings().get("zhllama") or {})


def _patch(installed: Installed, target: Any, name: str, value: Any) -> None:
    installed.patches.append((target, name, getattr(target, name)))
    setattr(target, name, value)


def _install_v06(installed: Installed, ours: dict[str, Any]) -> None:
    helper = importlib.import_module(_V06_HELPER)
    component = importlib.import_module(_V06_COMPONENT)
    from zhllama.adapters.privategpt.prompt_style import prompt_style_class

    style_class = prompt_style_class(helper.AbstractPromptStyle)
    original: Callable = helper.get_prompt_style
    replaced = ours.get("replaces_prompt_style", V06_STYLE_REPLACED)
    template = ours.get("template", DEFAULT_TEMPLATE)

    def get_prompt_style(prompt_style: str | None) -> Any:
        if prompt_style == replaced:
            return style_class(template=template)
        return original(prompt_style)

    get_prompt_style.zhllama_original = original  # type: ignore[attr-defined]
    _patch(installed, helper, "get_prompt_style", get_prompt_style)
    _patch(installed, component, "get_prompt_style", get_prompt_style)
    if ours.get("gguf") and (ours.get("context") or ours.get("rope_method")):
        _install_v06_rope(installed, ours)


def _install_v06_rope(installed: Installed, ours: dict[str, Any]) -> None:
    from zhllama.backends.llama_cpp_backend import llama_cpp_kwargs

    module = importlib.import_module("llama_index.llms.llama_cpp")
    planned = llama_cpp_kwargs(ours["gguf"], context=ours.get("context"), rope_method=ours.get("rope_method"))
    n_ctx = planned.pop("n_ctx", None)

    class LlamaCPPWithRopePlan(module.LlamaCPP):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["model_kwargs"] = {**(kwargs.get("model_kwargs") or {}), **planned}
            if n_ctx:
                kwargs["context_window"] = n_ctx
            super().__init__(*args, **kwargs)

    _patch(installed, module, "LlamaCPP", LlamaCPPWithRopePlan)


def _install_v1(installed: Installed, ours: dict[str, Any]) -> None:
    registry = importlib.import_module(_V1_REGISTRY)
    base = importlib.import_module("private_gpt.components.llm.prompt_styles.prompt_style_base")
    from zhllama.adapters.privategpt.prompt_style import prompt_style_class

    style_class = prompt_style_class(base.PromptStyleBase, base.PromptData)
    template = ours.get("template", DEFAULT_TEMPLATE)
    registry.register_prompt_style_factory(
        V1_PROMPT_STYLE, lambda *a, **k: style_class(*a, template=template, **k)
    )
    installed.registered.append((registry._EXTERNAL_PROMPT_STYLE_FACTORIES, V1_PROMPT_STYLE))

    llm_registry = importlib.import_module("private_gpt.components.llm.factories.registry")
    llm_registry.register_llm(V1_LLM_MODE, _v1_llm_factory(ours))
    installed.registered.append((llm_registry._PROVIDERS, V1_LLM_MODE))


def _v1_llm_factory(ours: dict[str, Any]) -> type:
    factories = importlib.import_module("private_gpt.components.llm.factories.base")

    class ZhllamaLlamaCppFactory(factories.LLMFactory):
        """Builds ``ZhllamaLLM`` on the profile's GGUF; the model's own tokenizer counts tokens."""

        def create_llm(self, model_config: Any) -> Any:
            llm, alias = self._create_llm(model_config)
            return factories.LLMInstance(llm=llm, tokenizer=None, alias=alias)

        def _create_llm(self, model_config: Any, tokenizer: Any = None) -> tuple[Any, str | None]:
            from zhllama.adapters.llamaindex import ZhllamaLLM

            if not ours.get("gguf"):
                raise PrivateGPTError(f"mode {V1_LLM_MODE!r} needs zhllama.gguf in the profile")
            sampling = model_config.sampling_params
            llm = ZhllamaLLM.from_llama_cpp(
                ours["gguf"],
                backend_kwargs={
                    "context": model_config.context_window,
                    "rope_method": ours.get("rope_method"),
                },
                template=ours.get("template", DEFAULT_TEMPLATE),
                temperature=sampling.temperature,
                max_new_tokens=sampling.max_new_tokens,
            )
            return llm, model_config.alias

    return ZhllamaLlamaCppFactory


def install(ours: dict[str, Any] | None = None, version: str | None = None) -> Installed:
    """Install into the importable ``private_gpt``; ``ours`` defaults to its active ``zhllama:`` settings."""
    version = version or detect_version()
    ours = zhllama_settings() if ours is None else ours
    installed = Installed(version)
    (_install_v1 if version == "1" else _install_v06)(installed, ours)
    return installed


def uninstall(installed: Installed) -> None:
    """Undo ``install``: restore patched names, drop registered keys."""
    for target, name, previous in reversed(installed.patches):
        setattr(target, name, previous)
    for registry, key in installed.registered:
        registry.pop(key, None)
    installed.patches.clear()
    installed.registered.clear()


def activate_profile(checkout: str | os.PathLike) -> None:
    """Put the checkout first on ``sys.path`` and ``zhllama`` into ``PGPT_PROFILES``."""
    root = str(Path(checkout).resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    profiles = [p.strip() for p in os.environ.get("PGPT_PROFILES", "").split(",") if p.strip()]
    if PROFILE_NAME not in profiles:
        os.environ["PGPT_PROFILES"] = ",".join([*profiles, PROFILE_NAME])


def run(checkout: str | os.PathLike, argv: list[str] | None = None) -> None:
    """``python -m private_gpt`` from ``checkout`` with zhllama installed (``zhllama privategpt run``)."""
    version = detect_version(checkout)
    if not (Path(checkout) / f"settings-{PROFILE_NAME}.yaml").is_file() and not os.environ.get(
        "PGPT_SETTINGS_FOLDER"
    ):
        raise PrivateGPTError(
            f"{checkout} has no settings-{PROFILE_NAME}.yaml: run `zhllama privategpt profile --out DIR`"
        )
    activate_profile(checkout)
    os.chdir(checkout)
    install(version=version)
    sys.argv = ["private_gpt", *(argv or [])]
    runpy.run_module("private_gpt", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m zhllama.adapters.privategpt.launcher PRIVATEGPT_DIR [ARGS...]")
    run(sys.argv[1], sys.argv[2:])
