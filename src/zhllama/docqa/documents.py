"""Turn user files into text: .txt .md .html/.htm .pdf .docx, with the reason whenever one cannot be.

``discover(paths)`` lists the files under the given files and folders (hidden entries skipped,
sorted, each once). ``load_document(path)`` returns a ``Document`` (text, how it was decoded,
and for PDF the character offset where each page starts) or raises ``UnreadableFileError`` whose
message is the reason ingest reports: unsupported type, binary, empty, undecodable, a broken or
encrypted PDF, a PDF with no text layer. Nothing is skipped silently.
"""

from __future__ import annotations

import os
import re
import zipfile
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.docqa.encodings import UndecodableError, decode_bytes
from zhllama.errors import DocQAError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, ".pdf", ".docx")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_BLANK_RUNS = re.compile(r"\n\s*\n\s*(?:\n\s*)+")


class UnreadableFileError(DocQAError):
    """A file that cannot be ingested; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Document:
    """The text of one file. ``page_starts[i]`` is the offset where page ``i + 1`` begins (PDF only)."""

    path: Path
    text: str
    kind: str
    encoding: str | None = None
    page_starts: tuple[int, ...] = field(default=())

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for formats without pages."""
        return bisect_right(self.page_starts, offset) if self.page_starts else None


def discover(paths: list[str | os.PathLike]) -> list[Path]:
    """Every file named or found (recursively, hidden entries skipped) under ``paths``, sorted, absolute."""
    found: set[Path] = set()
    for given in paths:
        path = Path(given).expanduser().resolve()
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.update(Path(root) / f for f in files if not f.startswith("."))
        elif path.exists():
            found.add(path)
        else:
            raise DocQAError(f"{str(given)!r} does not exist: give files or folders of documents")
    return sorted(found)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    try:
        return decode_bytes(data)
    except UndecodableError as exc:
        raise UnreadableFileError(str(exc)) from exc


def _load_html(path: Path, data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    declared = _META_CHARSET.search(data[:4096])
    text, encoding = None, None
    if declared:
        encoding = declared.group(1).decode("ascii").lower()
        try:
            text = data.decode(
                {"gbk": "gb18030", "gb2312": "gb18030", "big5": "cp950"}.get(encoding, encoding)
            )
        except (UnicodeDecodeError, LookupError):
            text = None
    if text is None:
        text, encoding = _decode(path, data)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    return soup.get_text("\n"), encoding


def _load_pdf(path: Path) -> tuple[str, tuple[int, ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError("encrypted PDF (decrypt it first)")
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise UnreadableFileError(f"broken PDF ({exc})") from exc
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    text = "\n\n".join(parts)
    if not text.strip():
        raise UnreadableFileError("PDF has no text layer (scanned pages? run OCR first)")
    return text, tuple(starts)


def _load_docx(path: Path) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFileError(f"broken .docx file ({exc})") from exc
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def load_document(path: str | os.PathLike) -> Document:
    """Load one file; raise ``UnreadableFileError`` with the reason when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFileError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"cannot read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise UnreadableFileError("empty file")
    encoding, pages = None, ()
    if suffix in TEXT_SUFFIXES:
        text, encoding = _decode(path, data)
    elif suffix in HTML_SUFFIXES:
        text, encoding = _load_html(path, data)
    elif suffix == ".pdf":
        text, pages = _load_pdf(path)
    else:
        text = _load_docx(path)
    if suffix != ".pdf":
        text = _clean(text)
    if not text.strip():
        raise UnreadableFileError("no text in the file")
    return Document(path=path, text=text, kind=suffix.lstrip("."), encoding=encoding, page_starts=pages)
