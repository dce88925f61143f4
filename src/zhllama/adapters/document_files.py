"""User files as the records both ecosystems' documents are built from, read as ``qa ingest`` reads them.

``read_files(paths)`` runs docqa's own loader (``zhllama.docqa.documents``: .txt/.md in UTF-8, UTF-16,
GB18030/GBK or Big5, decided per file; HTML with its declared charset; PDF page by page; DOCX) and yields
one ``FileRecord`` per file, or per page for a PDF (the LangChain and LlamaIndex PDF convention). A file
named explicitly that cannot be read raises ``UnreadableFileError`` naming it and the reason; a file found
by walking a folder that cannot be read (an image, an empty file) is reported through ``on_skip`` and
logged, never dropped silently: the same rule ``qa ingest`` follows.
"""

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.docqa.documents import UnreadableFileError, discover, display_path, load_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileRecord:
    """The text of one file (or one PDF page) and its metadata (``source``, ``file_name``, ``kind``,
    ``encoding`` when decoded, ``page`` for a PDF page, ``start`` = its offset in the file's text)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def read_file(path: str | os.PathLike) -> list[FileRecord]:
    """One file as records; ``UnreadableFileError`` (naming the file) when it cannot be read."""
    path = Path(path).expanduser().resolve()
    try:
        document = load_document(path)
    except UnreadableFileError as exc:
        raise UnreadableFileError(f"{path}: {exc}") from exc
    base = {"source": str(path), "file_name": path.name, "kind": document.kind}
    if document.encoding:
        base["encoding"] = document.encoding
    if not document.page_starts:
        return [FileRecord(document.text, {**base, "start": 0})]
    ends = [*(start - 2 for start in document.page_starts[1:]), len(document.text)]
    return [
        FileRecord(document.text[start:end], {**base, "page": number, "start": start})
        for number, (start, end) in enumerate(zip(document.page_starts, ends, strict=True), start=1)
        if document.text[start:end].strip()
    ]


def read_files(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[FileRecord]:
    """Every file named, and every file under every folder named, as records (see the module docstring)."""
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    named = {Path(p).expanduser().resolve() for p in given if not Path(p).expanduser().is_dir()}
    found = discover(given)
    for path, reason in found.skipped:
        if path in named:
            raise UnreadableFileError(f"{display_path(path)}: {reason}")
        logger.warning("skipped %s: %s", display_path(path), reason)
        if on_skip is not None:
            on_skip(str(path), reason)
    for path in found.files:
        try:
            yield from read_file(path)
        except UnreadableFileError as exc:
            if path in named:
                raise
            logger.warning("skipped %s", exc)
            if on_skip is not None:
                on_skip(str(path), str(exc))
