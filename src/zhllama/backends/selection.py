"""Which model answers: ``resolve_model`` finds it (cheaply), ``open_backend`` loads it.

One of ``model`` (a folder: transformers, in-process), ``gguf`` (a file: llama.cpp) or
``openai_base_url`` (a running server; the tokenizer comes from ``tokenizer`` or the default model
folder). With none given: ``$ZHLLAMA_MODEL``, else the tiny shared test model
(``locations.default_model_dir``). With no model anywhere the error says how to point at a
Chinese-Alpaca-2 folder or GGUF file. Resolving is split from loading so that callers report a
missing model or store before spending seconds on loading. Errors name the parameters in
backticks (`model`); the command line shows them as its options (``--model``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.backends.openai_compatible import check_base_url
from zhllama.backends.protocol import Backend
from zhllama.checkpoints.model_loader import check_model_folder
from zhllama.errors import ModelLoadError

NO_MODEL_MESSAGE = (
    "no model to answer with: pass `model` (a local Chinese-Alpaca-2 folder, e.g. "
    "~/models/chinese-alpaca-2-7b, or its 16K/64K variants), `gguf` (a GGUF file, e.g. "
    "chinese-alpaca-2-7b.Q4_K_M.gguf; `zhllama gguf export DIR OUT.gguf` makes one) or "
    "`openai_base_url` (a running server), or set ZHLLAMA_MODEL=DIR"
)


@dataclass(frozen=True)
class ModelSpec:
    """Where the model is: ``kind`` is ``"transformers"``, ``"llama.cpp"`` or ``"openai"``."""

    kind: str
    location: str
    tokenizer: Path | None = None
    context: int | None = None
    timeout: float | None = None
    rope_method: str | None = None
    rope_params: dict[str, Any] = field(default_factory=dict)

    @property
    def tokenizer_folder(self) -> Path | None:
        """The folder with ``tokenizer.model`` that measures this model's chunks, when known."""
        if self.kind == "transformers":
            return Path(self.location)
        return self.tokenizer


def resolve_model(
    model: str | os.PathLike | None = None,
    gguf: str | os.PathLike | None = None,
    openai_base_url: str | None = None,
    tokenizer: str | os.PathLike | None = None,
    context: int | None = None,
    timeout: float | None = None,
    *,
    rope_method: str | None = None,
    rope_params: dict[str, Any] | None = None,
) -> ModelSpec:
    """The model to use (at most one of ``model``/``gguf``/``openai_base_url``), without loading it.

    ``rope_method`` and ``rope_params`` (e.g. ``{"group": 32, "window": 128}`` for ``selfextend``)
    go to the RoPE plan of a model folder or GGUF; a server runs with its own RoPE settings.
    """
    from zhllama.locations import default_model_dir

    given = [
        f"`{name}`"
        for name, value in (("model", model), ("gguf", gguf), ("openai_base_url", openai_base_url))
        if value is not None
    ]
    if len(given) > 1:
        raise ModelLoadError(f"give one of `model`, `gguf` or `openai_base_url`, not {' and '.join(given)}")
    rope = {"rope_method": rope_method, "rope_params": dict(rope_params or {})}
    if openai_base_url is not None and (rope_method is not None or rope_params):
        raise ModelLoadError(
            "`rope_method`, `group` and `window` set how zhllama loads a `model` or `gguf`; a server at "
            "`openai_base_url` runs with its own RoPE settings (see `zhllama rope plan` for them)"
        )
    default = default_model_dir()
    tokenizer_dir = Path(tokenizer).expanduser() if tokenizer else default
    if gguf is not None:
        path = Path(gguf).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"`gguf` {str(gguf)!r} is not a file: {NO_MODEL_MESSAGE}")
        return ModelSpec("llama.cpp", str(path), tokenizer_dir, context, **rope)
    if openai_base_url is not None:
        check_base_url(openai_base_url)
        if tokenizer_dir is None:
            raise ModelLoadError(
                "`openai_base_url` needs the model's tokenizer to build prompts and count tokens: "
                "pass `tokenizer` (a folder with tokenizer.model)"
            )
        return ModelSpec("openai", openai_base_url, tokenizer_dir, context, timeout)
    if model is None and default is None:
        raise ModelLoadError(NO_MODEL_MESSAGE)
    folder = Path(model).expanduser() if model is not None else default
    check_model_folder(folder)
    return ModelSpec("transformers", str(folder), folder, context, **rope)


def open_backend(spec: ModelSpec) -> Backend:
    """Load the model ``spec`` names (seconds to minutes for a real checkpoint)."""
    from zhllama.backends.llama_cpp_backend import LlamaCppBackend
    from zhllama.backends.openai_compatible import OpenAICompatibleBackend
    from zhllama.backends.transformers_backend import TransformersBackend

    if spec.kind == "llama.cpp":
        return LlamaCppBackend.from_gguf(
            spec.location, context=spec.context, rope_method=spec.rope_method, rope_params=spec.rope_params
        )
    if spec.kind == "openai":
        options = {} if spec.timeout is None else {"timeout": spec.timeout}
        return OpenAICompatibleBackend(spec.location, spec.tokenizer, context_window=spec.context, **options)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return TransformersBackend.from_pretrained(
        spec.location, context=spec.context, rope_method=spec.rope_method, rope_params=spec.rope_params
    )
