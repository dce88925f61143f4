"""Local document QA, retrieval side: load, split, index, store, retrieve with citations.

Modules, one concept each: ``encodings`` (decode Chinese text files), ``documents`` (finding
files, file formats), ``normalisation`` (script-insensitive text), ``splitting`` (token-sized
sentence chunks), ``lexical`` (BM25), ``dense`` (offline encoders), ``fusion`` (combining
rankings), ``store`` (Chroma, embedded or server, and the derived BM25 index), ``preparing`` (files
to chunks, ids, vectors and BM25 segments), ``catalogue`` (what the store holds of each file),
``ingest`` (idempotent, resumable), ``removal`` (deleting files' chunks), ``passages`` (joining
overlapping hits), ``retrieval`` (``Retriever.retrieve(question, k) -> list[Hit]``), ``budget``
(``context_budget``), ``tokenizer_path`` (which tokenizer measures chunks). The answer side
(the backend itself is chosen by ``zhllama.backends.selection``): ``runner`` (upstream prompts to
a backend, measured), ``packing`` (fitting text into a prompt), ``chains`` (stuff/refine/map-reduce,
shared with the LangChain adapter), ``answer`` (``answer_question``), ``conversation``
(``qa chat``), ``summarize`` (``summarize_file``).

Importing this package imports none of chromadb, jieba or opencc; they load on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from zhllama.errors import DocQAError


def tokenizer_path(given: str | os.PathLike | None = None) -> Path:
    """The SentencePiece tokenizer that measures chunks: ``given``, else ``ZHLLAMA_TOKENIZER``, else the
    default model folder (``ZHLLAMA_MODEL`` or the shared tiny model), else the shared assets' tokenizer."""
    from zhllama.locations import assets_dir, default_model_dir

    candidates = [given, os.environ.get("ZHLLAMA_TOKENIZER") or None, default_model_dir()]
    assets = assets_dir()
    if assets is not None:
        candidates.append(assets / "tokenizers" / "chinese-llama-2")
    for candidate in candidates:
        if candidate is None:
            continue
        path = Path(candidate).expanduser()
        if path.is_file() or (path / "tokenizer.model").is_file():
            return path
        if candidate is given:
            raise DocQAError(f"`tokenizer` {str(given)!r}: no tokenizer.model there")
    raise DocQAError(
        "no tokenizer to measure chunks with: pass `tokenizer` (a model folder with tokenizer.model), "
        "or set ZHLLAMA_TOKENIZER or ZHLLAMA_MODEL"
    )
