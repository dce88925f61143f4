"""Run privateGPT 1.x with zhllama's prompt style and llama.cpp mode registered (``zhllama privategpt run``).

privateGPT 1.x has registries but no plugin entry points, so the launcher imports them and registers
before the dependency injector builds the components:

- ``register_prompt_style_factory("zhllama-alpaca-2", ...)``: the Alpaca-2 prompt style, usable as
  ``prompt_style:`` of any model entry;
- ``register_llm("zhllama-llamacpp", ...)``: a factory building ``ZhllamaLLM`` on ``LlamaCppBackend``
  for the profile's GGUF (prompt as safe ids, the RoPE plan for the entry's ``context_window``, the
  entry's sampling).

privateGPT 0.6.x cannot hold zhllama (it pins transformers 4 and llama-index-core 0.10), so ``run`` refuses
a 0.6 checkout and names the route that works (``profile.V06_ROUTE``).

``install()`` returns what it registered and ``uninstall(installed)`` removes it. ``run(dir, argv)``
puts the checkout on ``sys.path``, adds the ``zhllama`` profile to ``PGPT_PROFILES``, installs, and
runs ``python -m private_gpt ARGV`` (``serve`` starts the server) in this process.
"""

import importlib
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.adapters.privategpt.profile import (
    PROFILE_NAME,
    V06_ROUTE,
    V1_LLM_MODE,
    V1_PROMPT_STYLE,
    PrivateGPTError,
    detect_version,
)
from zhllama.core.templates import DEFAULT_TEMPLATE

_PROMPT_STYLES = "private_gpt.components.llm.prompt_styles"
_LLM_FACTORIES = "private_gpt.components.llm.factories"


@dataclass
class Installed:
    """What ``install`` registered: ``(registry dict, key)`` pairs."""

    registered: list[tuple[dict, str]] = field(default_factory=list)


def zhllama_settings() -> dict[str, Any]:
    """The ``zhllama:`` section of privateGPT's merged active profiles (empty when absent)."""
    loader = importlib.import_module("private_gpt.settings.settings_loader")
    return dict(loader.load_active_settings().get(PROFILE_NAME) or {})


def _llm_factory(ours: dict[str, Any]) -> type:
    base = importlib.import_module(f"{_LLM_FACTORIES}.base")

    class ZhllamaLlamaCppFactory(base.LLMFactory):
        """Builds ``ZhllamaLLM`` on the profile's GGUF; the model's own tokenizer counts tokens."""

        def create_llm(self, model_config: Any) -> Any:
            llm, alias = self._create_llm(model_config)
            return base.LLMInstance(llm=llm, tokenizer=None, alias=alias)

        def _create_llm(self, model_config: Any, tokenizer: Any = None) -> tuple[Any, str | None]:
            from zhllama.adapters.llamaindex import ZhllamaLLM

            if not ours.get("gguf"):
                raise PrivateGPTError(
                    f"mode {V1_LLM_MODE!r} needs zhllama.gguf in the profile: write it with "
                    "`zhllama privategpt profile --mode llamacpp --model MODEL.gguf`"
                )
            sampling = model_config.sampling_params
            llm = ZhllamaLLM.from_llama_cpp(
                ours["gguf"],
                backend_kwargs={
                    "context": model_config.context_window,
                    "rope_method": ours.get("rope_method"),
                    "rope_params": ours.get("rope_params"),
                },
                template=ours.get("template", DEFAULT_TEMPLATE),
                temperature=sampling.temperature,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                repetition_penalty=sampling.repetition_penalty,
                max_new_tokens=sampling.max_new_tokens,
            )
            return llm, model_config.alias

    return ZhllamaLlamaCppFactory


def install(ours: dict[str, Any] | None = None) -> Installed:
    """Register the prompt style and the llama.cpp mode in the importable privateGPT 1.x.

    ``ours`` defaults to the active profiles' ``zhllama:`` settings.
    """
    from zhllama.adapters.privategpt.prompt_style import prompt_style_class

    ours = zhllama_settings() if ours is None else ours
    styles = importlib.import_module(f"{_PROMPT_STYLES}.registry")
    base = importlib.import_module(f"{_PROMPT_STYLES}.prompt_style_base")
    style_class = prompt_style_class(base.PromptStyleBase, base.PromptData)
    template = ours.get("template", DEFAULT_TEMPLATE)
    installed = Installed()
    styles.register_prompt_style_factory(
        V1_PROMPT_STYLE, lambda *a, **k: style_class(*a, template=template, **k)
    )
    installed.registered.append((styles._EXTERNAL_PROMPT_STYLE_FACTORIES, V1_PROMPT_STYLE))
    llms = importlib.import_module(f"{_LLM_FACTORIES}.registry")
    llms.register_llm(V1_LLM_MODE, _llm_factory(ours))
    installed.registered.append((llms._PROVIDERS, V1_LLM_MODE))
    return installed


def uninstall(installed: Installed) -> None:
    """Undo ``install``: drop the registered keys."""
    for registry, key in installed.registered:
        registry.pop(key, None)
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
    """``python -m private_gpt ARGV`` from a 1.x ``checkout`` with zhllama registered."""
    version = detect_version(checkout)
    if version == "0.6":
        raise PrivateGPTError(f"`zhllama privategpt run` cannot start privateGPT 0.6.x: {V06_ROUTE}")
    folders = os.environ.get("PGPT_SETTINGS_FOLDER") or str(checkout)
    if not any(
        (Path(folder.strip()) / f"settings-{PROFILE_NAME}.yaml").is_file() for folder in folders.split(",")
    ):
        raise PrivateGPTError(
            f"no settings-{PROFILE_NAME}.yaml in {folders}: write it first with "
            f"`zhllama privategpt profile --out {checkout} --mode llamacpp --model MODEL.gguf`"
        )
    activate_profile(checkout)
    os.chdir(checkout)
    install()
    sys.argv = ["private_gpt", *(argv or [])]
    runpy.run_module("private_gpt", run_name="__main__", alter_sys=True)
