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
from zhllama.backends.speculation import check_speculation
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
    """Where the model is: ``kind`` is ``"transformers"``, ``"llama.cpp"`` or ``"openai"``; ``draft``
    and ``lookup`` are its speculative decoding (``zhllama.backends.speculation``)."""

    kind: str
    location: str
    tokenizer: Path | None = None
    context: int | None = None
    timeout: float | None = None
    draft: str | None = None
    lookup: int | None = None
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
    draft: str | os.PathLike | None = None,
    lookup: int | None = None,
    *,
    rope_method: str | None = None,
    rope_params: dict[str, Any] | None = None,
) -> ModelSpec:
    """The model to use (at most one of ``model``/``gguf``/``openai_base_url``), without loading it.

    ``draft`` is a draft model of the same kind (a folder for ``model``, a GGUF file for ``gguf``);
    ``lookup`` switches on prompt-lookup decoding. A server speculates on its own (vLLM:
    ``zhllama vllm args --draft``), so neither goes with ``openai_base_url``. ``rope_method`` and
    ``rope_params`` (e.g. ``{"group": 32, "window": 128}`` for ``selfextend``) go to the RoPE plan of
    a model folder or GGUF; a server runs with its own RoPE settings.
    """
    from zhllama.locations import default_model_dir

    check_speculation(draft, lookup)
    if openai_base_url is not None and (draft is not None or lookup is not None):
        raise ModelLoadError(
            "speculative decoding (`draft`, `lookup`) runs inside the server behind `openai_base_url`: "
            "start the server with it (vLLM: `zhllama vllm args MODEL_DIR --draft DIR|ngram`)"
        )
    draft_path = str(Path(draft).expanduser()) if draft is not None else None

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
        if draft_path is not None and not Path(draft_path).is_file():
            raise ModelLoadError(
                f"`draft` {str(draft)!r} is not a file: with `gguf`, the draft is a GGUF file too"
            )
        return ModelSpec(
            "llama.cpp", str(path), tokenizer_dir, context, draft=draft_path, lookup=lookup, **rope
        )
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
    if draft_path is not None:
        try:
            check_model_folder(Path(draft_path))
        except ModelLoadError as exc:
            raise ModelLoadError(f"`draft`: {exc} (with `model`, the draft is a model folder too)") from None
    return ModelSpec("transformers", str(folder), folder, context, draft=draft_path, lookup=lookup, **rope)


def open_backend(spec: ModelSpec) -> Backend:
    """Load the model ``spec`` names (seconds to minutes for a real checkpoint)."""
    from zhllama.backends.llama_cpp_backend import LlamaCppBackend
    from zhllama.backends.openai_compatible import OpenAICompatibleBackend
    from zhllama.backends.transformers_backend import TransformersBackend

    local = {
        "context": spec.context,
        "draft": spec.draft,
        "lookup": spec.lookup,
        "rope_method": spec.rope_method,
        "rope_params": spec.rope_params,
    }
    if spec.kind == "llama.cpp":
        return LlamaCppBackend.from_gguf(spec.location, **local)
    if spec.kind == "openai":
        options = {} if spec.timeout is None else {"timeout": spec.timeout}
        return OpenAICompatibleBackend(spec.location, spec.tokenizer, context_window=spec.context, **options)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return TransformersBackend.from_pretrained(spec.location, **local)
