"""What ``run_perplexity`` measures with: a transformers model folder or a GGUF file run by llama.cpp.

Both runtimes give the sweep the same three things, so a quantized GGUF sits in the same table as
transformers fp32/bf16 on the same windows: ``encode(text)`` (plain-text ids, no BOS: the
SentencePiece processor of the folder, or llama.cpp's tokenizer, which segments identically),
``load(request)`` for a ``rope_request`` (``zhllama.load`` with the RoPE plan, or ``from_gguf``
with the plan's llama.cpp settings) and the loaded scorer's per-token losses of a window.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhllama.evaluation.perplexity import window_nll


@dataclass(frozen=True)
class Scorer:
    """One loaded model: ``nll(window)`` per-token losses, the RoPE settings it runs with."""

    nll: Callable[[list[int]], Any]
    rope_parameters: dict[str, Any]


class TransformersRuntime:
    """A local model folder through ``zhllama.load`` (``dtype``, ``device``)."""

    def __init__(self, folder: Path, dtype: str, device: str) -> None:
        from zhllama.checkpoints.model_loader import check_model_folder
        from zhllama.core.model_config import read_model_config

        check_model_folder(folder)
        self.folder, self.dtype, self.device = folder, dtype, device
        self.config = read_model_config(folder)

    def encoder(self) -> Callable[[str], list[int]]:
        from zhllama.core.tokenizer.model_file import load_processor, resolve_model_file

        processor = load_processor(resolve_model_file(self.folder))
        return lambda text: processor.encode(text)

    def load(self, request: dict[str, Any], length: int) -> Scorer:
        import warnings

        from zhllama.checkpoints.model_loader import load

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a target past a method's reach is what we measure
            model, _ = load(self.folder, dtype=self.dtype, device=self.device, **request)
        return Scorer(lambda window: window_nll(model, window), dict(model.config.rope_parameters))


class LlamaCppRuntime:
    """A GGUF file through ``LlamaCppBackend.from_gguf`` with every position's logits kept; the
    last model loaded is reused while the settings asked for do not change."""

    def __init__(self, path: Path, threads: int | None) -> None:
        from zhllama.checkpoints.gguf import read_config

        self.path, self.threads = path, threads
        self.config = read_config(path)
        self._loaded: tuple[str, Any] | None = None

    @property
    def dtype(self) -> str:
        from zhllama.checkpoints.gguf.quantize import quant_types
        from zhllama.checkpoints.gguf.reader import read_file_type

        file_type = read_file_type(self.path)
        names = {number: name for name, number in quant_types().items()}
        return f"gguf {names.get(file_type, file_type)}"

    def encoder(self) -> Callable[[str], list[int]]:
        backend = self._backend({}, int(self.config["max_position_embeddings"]))
        return lambda text: backend.tokenizer(text)["input_ids"]

    def _settings(self, request: dict[str, Any]) -> dict[str, Any]:
        """``Llama(...)`` keywords for ``request``; grouped attention is refused: llama.cpp runs it a
        token at a time (``llama_cpp_grouped``), which cannot score a window in one batch."""
        from zhllama.backends.llama_cpp_backend import llama_cpp_plan
        from zhllama.backends.protocol import BackendError

        settings = llama_cpp_plan(self.path, **request)
        if "grouped_attention" in settings:
            raise BackendError(
                "perplexity of a GGUF with grouped attention (selfextend) is not measured: llama.cpp runs "
                "it a token at a time; measure the model folder (transformers) instead"
            )
        return dict(settings["kwargs"])

    def load(self, request: dict[str, Any], length: int) -> Scorer:
        settings = self._settings(request)
        rope = {key: value for key, value in settings.items() if key.startswith(("rope", "yarn"))}
        return Scorer(self._backend(request, length).token_nll, rope)

    def _backend(self, request: dict[str, Any], length: int) -> Any:
        """A backend for ``request`` whose window holds ``length`` tokens, decoded in one batch."""
        import json

        from zhllama.backends.llama_cpp_backend import LlamaCppBackend

        context = max(length, int(self._settings(request)["n_ctx"]))
        key = json.dumps([request, context], sort_keys=True)
        if self._loaded is None or self._loaded[0] != key:
            self._loaded = None  # free the previous model first
            backend = LlamaCppBackend.from_gguf(
                self.path, n_threads=self.threads, logits_all=True, n_ctx=context, n_batch=context, **request
            )
            self._loaded = (key, backend)
        return self._loaded[1]


def open_runtime(model: str | os.PathLike, dtype: str, device: str, threads: int | None) -> Any:
    """A ``LlamaCppRuntime`` for a GGUF file, a ``TransformersRuntime`` for a model folder."""
    path = Path(model).expanduser()
    if path.is_file():
        return LlamaCppRuntime(path, threads)
    return TransformersRuntime(path, dtype, device)
