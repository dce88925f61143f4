"""Settings profiles (``settings-zhllama.yaml``) that run Chinese-Alpaca-2 in privateGPT, per release line.

The two lines differ in schema and in what can run beside zhllama:

- **0.6.x** pins ``transformers ^4.42`` and ``llama-index-core ^0.10``; zhllama needs transformers 5 and
  LlamaIndex 0.14, so nothing of zhllama can run inside a 0.6 environment. Its one route is
  ``openailike``: privateGPT, installed as its own docs say and left untouched, talks to an
  OpenAI-compatible server that applies the Alpaca-2 chat template (``python -m
  zhllama.backends.llama_cpp_server``, or vLLM over a folder with ``zhllama template export --format
  hf``); ``prompt_style: default`` sends chat messages as they are. ``llamacpp`` (privateGPT running
  the GGUF in-process) is refused with that route named.
- **1.x** (llama-index-core 0.14, transformers 5) can hold zhllama. ``openailike``: one ``models:``
  entry with ``mode: openai`` and ``openai.api_base``; chat messages go to the server, whose template
  is what the model sees. ``llamacpp``: the mode ``zhllama-llamacpp`` that ``zhllama privategpt run``
  registers.

Both lines count tokens with a tokenizer: without one they use tiktoken's ``cl100k_base``, which they
download on first use, so offline ``tokenizer`` (a local model folder) is needed: 0.6's
``llm.tokenizer``; 1.x's entry ``tokenizer`` with ``prompt_style: chat``, which renders the folder's
chat template (checked to be there).

Sampling is upstream's: temperature 0.2 and 512 new tokens on both lines; 1.x entries also carry
top_k 40, top_p 0.9, repetition_penalty 1.1 and min_p 0 (1.x's own defaults are 50, 0.7, 1.2, 0.1).
The openailike clients of both lines send only temperature and max tokens; the server's defaults
decide the rest. Everything zhllama's launcher reads sits under a top-level ``zhllama:`` key (both
lines keep unknown keys). ``detect_version`` reads a checkout's release line; ``profile_settings``
is pure; ``write_profile`` writes the file.
"""

import json
import os
import re
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
V1_LLM_MODE = "zhllama-llamacpp"
V1_PROMPT_STYLE = "zhllama-alpaca-2"
V06_ROUTE = (
    "privateGPT 0.6.x pins transformers 4 and llama-index-core 0.10, beside which zhllama cannot run, so "
    "it cannot run the model in-process; keep privateGPT's own environment and serve the model to it: "
    "`python -m zhllama.backends.llama_cpp_server --model MODEL.gguf --port 8000` (in zhllama's "
    "environment), then `zhllama privategpt profile --out PRIVATEGPT_DIR --mode openailike` and "
    "`PGPT_PROFILES=zhllama make run` (docs/privategpt.md)"
)


class PrivateGPTError(ZhllamaError):
    """A privateGPT profile or launch cannot be done as asked."""


def _version_file_line(text: str) -> str | None:
    match = re.match(r"\s*v?(\d+)\.(\d+)", text)
    if match is None:
        return None
    major, minor = match.groups()
    if major == "0" and minor == "6":
        return "0.6"
    return "1" if major == "1" else None


def detect_version(checkout: str | os.PathLike) -> str:
    """The release line of a privateGPT checkout: ``"0.6"`` or ``"1"``.

    Read from its ``version.txt``; a checkout without one is told apart by layout (v1 has the
    prompt-style registry). Raises ``PrivateGPTError`` for a folder that is not a checkout and for
    another release line, whose settings schema zhllama does not know.
    """
    root = Path(checkout).expanduser()
    if not (root / "private_gpt").is_dir():
        raise PrivateGPTError(
            f"{root} is not a privateGPT checkout: it has no private_gpt/ folder; pass the folder that "
            "holds private_gpt/ and settings.yaml"
        )
    version_file = root / "version.txt"
    if version_file.is_file():
        text = version_file.read_text(encoding="utf-8", errors="replace").strip()
        line = _version_file_line(text)
        if line is None:
            raise PrivateGPTError(
                f"{root} is privateGPT {text}: zhllama's profiles are for privateGPT 0.6.x and 1.x; "
                "check out one of those (git checkout v0.6.2)"
            )
        return line
    return "1" if (root / "private_gpt/components/llm/prompt_styles/registry.py").is_file() else "0.6"


def _sampling(version: str) -> dict[str, Any]:
    sampling = {"temperature": UPSTREAM.temperature, "max_new_tokens": UPSTREAM.max_new_tokens}
    if version == "1":
        sampling.update(
            top_p=UPSTREAM.top_p,
            top_k=UPSTREAM.top_k,
            repetition_penalty=UPSTREAM.repetition_penalty,
            min_p=0.0,
        )
    return sampling


def profile_settings(
    mode: Mode = "openailike",
    *,
    version: str,
    model: str | None = None,
    api_base: str = "http://localhost:8000/v1",
    context_window: int = 4096,
    rope_method: str | None = None,
    rope_params: dict[str, Any] | None = None,
    template: str = DEFAULT_TEMPLATE,
    tokenizer: str | None = None,
) -> dict[str, Any]:
    """The profile as a dict. ``model``: the served model name (openailike) or the GGUF path (llamacpp).

    ``tokenizer``: a local model folder privateGPT counts tokens with (0.6: ``llm.tokenizer``; 1.x: the
    entry's ``tokenizer`` with the ``chat`` prompt style, which renders the folder's chat template).
    """
    if mode not in MODES:
        raise PrivateGPTError(f"unknown `mode` {mode!r}: use one of {', '.join(MODES)}")
    if version not in VERSIONS:
        raise PrivateGPTError(f"unknown privateGPT `version` {version!r}: use one of {', '.join(VERSIONS)}")
    if context_window <= 0:
        raise PrivateGPTError(f"`context_window` must be a positive number of tokens, not {context_window}")
    if mode == "llamacpp" and version == "0.6":
        raise PrivateGPTError(f"`mode` llamacpp is not possible for privateGPT 0.6.x: {V06_ROUTE}")
    if mode == "llamacpp" and not model:
        raise PrivateGPTError(
            "`mode` llamacpp needs `model`, a GGUF file (zhllama gguf export MODEL_DIR OUT.gguf makes one)"
        )
    name = model or "chinese-alpaca-2"
    ours: dict[str, Any] = {"template": template, "privategpt_version": version}
    if version == "0.6":
        llm = {
            "mode": mode,
            "prompt_style": "default",
            "context_window": context_window,
            **_sampling(version),
        }
        if tokenizer:
            llm["tokenizer"] = tokenizer
        openai = {"api_base": api_base, "api_key": "EMPTY", "model": name}
        return {"llm": llm, "openai": openai, PROFILE_NAME: ours}
    model_name = Path(name).stem if mode == "llamacpp" else name
    entry: dict[str, Any] = {
        "name": model_name,
        "type": "llm",
        "mode": "openai" if mode == "openailike" else V1_LLM_MODE,
        "context_window": context_window,
        "sampling_params": _sampling(version),
    }
    if tokenizer:
        entry.update(tokenizer=tokenizer, prompt_style="chat")
    settings: dict[str, Any] = {
        "llm": {"default_model": model_name, "auto_discover_models": False},
        "models": [entry],
    }
    if mode == "openailike":
        settings["openai"] = {"api_base": api_base, "api_key": "EMPTY"}
    else:
        ours.update(
            gguf=str(Path(name).expanduser().resolve()), context=context_window, rope_method=rope_method
        )
        if rope_params:
            ours["rope_params"] = dict(rope_params)
    settings[PROFILE_NAME] = ours
    return settings


def _tokenizer_folder(tokenizer: str | os.PathLike, version: str) -> Path:
    """The absolute ``tokenizer`` folder, checked: tokenizer.model, and for 1.x a chat template."""
    folder = Path(tokenizer).expanduser().resolve()
    if not (folder / "tokenizer.model").is_file():
        raise PrivateGPTError(f"`tokenizer` {folder} is not a model folder holding tokenizer.model")
    config = folder / "tokenizer_config.json"
    has_template = config.is_file() and "chat_template" in json.loads(config.read_text(encoding="utf-8"))
    if version == "1" and not has_template:
        raise PrivateGPTError(
            f"`tokenizer` {folder} has no chat template, which privateGPT 1.x renders with it: write the "
            f"Alpaca-2 one first with `zhllama template export --format hf --model-dir {folder}`"
        )
    return folder


def start_command(folder: str | os.PathLike, mode: Mode, version: str) -> str:
    """How privateGPT starts with the profile: its own command, or zhllama's launcher for 1.x llamacpp."""
    if mode == "llamacpp":
        return f"zhllama privategpt run {folder} serve"
    return f"PGPT_PROFILES={PROFILE_NAME} " + ("make run" if version == "0.6" else "private-gpt serve")


def write_profile(
    out: str | os.PathLike, mode: Mode = "openailike", *, version: str | None = None, **options: Any
) -> Path:
    """Write ``out/settings-zhllama.yaml``; ``version`` defaults to ``out``'s (a privateGPT checkout).

    ``out`` may also be another settings folder (``PGPT_SETTINGS_FOLDER``); then ``version`` is needed.
    """
    folder = Path(out).expanduser()
    if not folder.is_dir():
        raise PrivateGPTError(
            f"`out` {folder} is not a folder: pass the privateGPT checkout (or its PGPT_SETTINGS_FOLDER)"
        )
    if version is None:
        if not (folder / "private_gpt").is_dir():
            raise PrivateGPTError(
                f"`out` {folder} is not a privateGPT checkout, so its release line is unknown: pass "
                "`version` (0.6 or 1)"
            )
        version = detect_version(folder)
    if options.get("tokenizer"):
        options["tokenizer"] = str(_tokenizer_folder(options["tokenizer"], version))
    settings = profile_settings(mode, version=version, **options)
    header = (
        f"# written by `zhllama privategpt profile` for privateGPT {version}.x; "
        f"start it from the checkout with: {start_command(folder, mode, version)}\n"
    )
    path = folder / FILENAME
    write_atomic(path, header + yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    return path
