"""Settings profiles (``settings-zhllama.yaml``) that run Chinese-Alpaca-2 in privateGPT.

Two routes, for each privateGPT line (their settings schemas differ):

- ``openailike``: privateGPT talks to an OpenAI-compatible server (vLLM, llama.cpp's ``llama-server
  --jinja``, ``python -m zhllama.backends.llama_cpp_server``) that applies the model's own chat
  template; ours must be in the model folder (``zhllama template export --format hf``) or passed to the
  server. privateGPT's ``prompt_style: default`` (v0.6) / no tokenizer (v1) then sends chat messages
  untouched. This route needs no launcher.
- ``llamacpp``: privateGPT runs the GGUF in-process. v0.6 accepts only its fixed ``prompt_style`` list,
  so the profile names ``llama2`` there and ``zhllama privategpt run`` swaps in the Alpaca-2 style; v1
  has no llama.cpp mode of its own, so the profile names the mode ``zhllama-llamacpp`` that the launcher
  registers (``ZhllamaLLM`` on ``LlamaCppBackend``: safe ids, RoPE plan).

Everything zhllama's launcher reads sits under a top-level ``zhllama:`` key (both lines ignore or keep
unknown top-level keys). ``profile_settings`` is pure; ``write_profile`` writes the file.
"""

import os
from pathlib import Path
from typing import Any, Literal

import yaml

from zhllama.core.files import write_atomic
from zhllama.core.sampling import UPSTREAM
from zhllama.core.templates import DEFAULT_TEMPLATE
from zhllama.errors import ZhllamaError

Mode = Literal["openailike", "llamacpp"]
MODES = ("openailike", "llamacpp")
VERSIONS = ("0.6", "1")
PROFILE_NAME = "zhllama"
FILENAME = f"settings-{PROFILE_NAME}.yaml"
V06_STYLE_REPLACED = "llama2"
V1_LLM_MODE = "zhllama-llamacpp"
V1_PROMPT_STYLE = "zhllama-alpaca-2"


class PrivateGPTError(ZhllamaError):
    """A privateGPT profile or launch cannot be done as asked."""


def profile_settings(
    mode: Mode = "openailike",
    *,
    version: str = "1",
    model: str | None = None,
    api_base: str = "http://localhost:8000/v1",
    context_window: int = 4096,
    rope_method: str | None = None,
    template: str = DEFAULT_TEMPLATE,
) -> dict[str, Any]:
    """The profile as a dict. ``model``: the served model name (openailike) or the GGUF path (llamacpp)."""
    if mode not in MODES:
        raise PrivateGPTError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if version not in VERSIONS:
        raise PrivateGPTError(f"unknown privateGPT version {version!r}: use one of {', '.join(VERSIONS)}")
    if mode == "llamacpp" and not model:
        raise PrivateGPTError(
            "`mode` llamacpp needs `model`, a GGUF file (zhllama gguf export MODEL_DIR OUT.gguf makes one)"
        )
    name = model or "chinese-alpaca-2"
    sampling = {"temperature": UPSTREAM.temperature, "max_new_tokens": UPSTREAM.max_new_tokens}
    ours: dict[str, Any] = {"template": template, "privategpt_version": version}
    if mode == "llamacpp":
        gguf = str(Path(name).expanduser().resolve())
        ours.update(gguf=gguf, context=context_window, rope_method=rope_method)
    if version == "0.6":
        llm: dict[str, Any] = {"mode": mode, "context_window": context_window, **sampling}
        settings: dict[str, Any] = {"llm": llm}
        if mode == "openailike":
            llm["prompt_style"] = "default"
            settings["openai"] = {"api_base": api_base, "api_key": "EMPTY", "model": name}
        else:
            llm["prompt_style"] = V06_STYLE_REPLACED
            ours["replaces_prompt_style"] = V06_STYLE_REPLACED
            settings["llamacpp"] = {
                "llm_hf_repo_id": "local",
                "llm_hf_model_file": ours["gguf"],  # privateGPT joins it to models/: an absolute path wins
                "top_k": UPSTREAM.top_k,
                "top_p": UPSTREAM.top_p,
                "repeat_penalty": UPSTREAM.repetition_penalty,
                "tfs_z": 1.0,
            }
    else:
        model_name = Path(name).stem if mode == "llamacpp" else name
        entry: dict[str, Any] = {
            "name": model_name,
            "type": "llm",
            "mode": "openai" if mode == "openailike" else V1_LLM_MODE,
            "context_window": context_window,
            "sampling_params": {**sampling, "top_p": UPSTREAM.top_p},
        }
        settings = {"llm": {"default_model": model_name, "auto_discover_models": False}, "models": [entry]}
        if mode == "openailike":
            settings["openai"] = {"api_base": api_base, "api_key": "EMPTY"}
    settings["zhllama"] = ours
    return settings


def write_profile(out: str | os.PathLike, mode: Mode = "openailike", **options: Any) -> Path:
    """Write ``out/settings-zhllama.yaml`` (``out`` must exist: usually the privateGPT checkout)."""
    folder = Path(out)
    if not folder.is_dir():
        raise PrivateGPTError(
            f"`out` {folder} is not a folder: pass the privateGPT checkout (or PGPT_SETTINGS_FOLDER)"
        )
    path = folder / FILENAME
    header = "# written by `zhllama privategpt profile`; use with PGPT_PROFILES=zhllama" + (
        " and `zhllama privategpt run .`\n" if mode == "llamacpp" else "\n"
    )
    body = yaml.safe_dump(profile_settings(mode, **options), allow_unicode=True, sort_keys=False)
    write_atomic(path, header + body)
    return path
