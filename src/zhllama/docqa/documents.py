"""Turn user files into text: .txt .md .html/.htm .pdf .docx, with the reason whenever one cannot be.

``discover(paths)`` finds the files under the given files and folders (hidden entries left out,
sorted, each once) and lists what it will not read, with the reason: anything that is not a
regular file (a FIFO, a device, a socket), a file larger than ``max_bytes``, a symbolic link (to a
file or a folder) whose target is outside the given paths, a name that is not valid UTF-8.
``read_file`` reads a regular file without ever blocking on a FIFO. ``load_document(path)`` returns
a ``Document`` (text, how it was decoded, and for PDF the character offset where each page starts)
or raises ``UnreadableFileError`` whose message is the reason ingest reports: unsupported type,
binary, empty, undecodable, a broken or encrypted PDF, a PDF with no text layer, or whatever else
a parser could not make of the file. Each file is read in isolation: nothing one file does stops
another, and nothing is skipped silently.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
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
MAX_FILE_BYTES = 100 * 1024 * 1024
"""Files larger than this are skipped with the reason (``max_bytes`` raises it)."""


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


@dataclass
class Discovery:
    """The files ``discover`` will read, and those it will not (``(path, reason)``); ``stats`` holds
    each file's ``os.stat_result`` as it was found (an ingest compares sizes and times without
    asking the file system again)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    stats: dict[Path, os.stat_result] = field(default_factory=dict)


_SURROGATE = re.compile("[\udc80-\udcff]")


def _invalid_name(path: Path | str) -> bool:
    return _SURROGATE.search(str(path)) is not None


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printable text: a byte that is not UTF-8 in a file name shows as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def discover(
    paths: list[str | os.PathLike], *, follow_symlinks: bool = False, max_bytes: int = MAX_FILE_BYTES
) -> Discovery:
    """Every regular file named or found (recursively, hidden entries left out) under ``paths``, sorted,
    absolute, and the entries left out with the reason (see the module docstring).

    A symbolic link is followed when its target lies inside one of ``paths`` (or always, with
    ``follow_symlinks``); a path that does not exist is a ``DocQAError``. Folders are read with
    ``os.scandir``: one system call per file, so a folder of 10,000 files is listed in a blink.
    """
    roots = []
    for given in paths:
        root = Path(given).expanduser().resolve()
        if not root.exists():
            raise DocQAError(f"{str(given)!r} does not exist: give files or folders of documents")
        roots.append(root)
    found = Discovery()
    seen_folders: set[Path] = set()

    def consider(path: Path, info: os.stat_result | None = None) -> None:
        """``path`` (canonical unless it is a link) with its ``lstat`` when the caller has it."""
        if _invalid_name(path):
            found.skipped.append((path, "its name is not valid UTF-8: rename the file"))
            return
        if info is None or stat.S_ISLNK(info.st_mode):
            if path.is_symlink():
                target = path.resolve()
                if not follow_symlinks and not _inside(target, roots):
                    found.skipped.append((path, f"a symbolic link to {target}, outside the given folders"))
                    return
                if target.is_dir():
                    walk(target)
                    return
                path = target
            try:
                info = path.stat()
            except OSError as exc:
                found.skipped.append((path, f"cannot read ({exc.strerror or exc})"))
                return
        if not stat.S_ISREG(info.st_mode):
            found.skipped.append((path, "not a regular file (a FIFO, device or socket)"))
        elif info.st_size > max_bytes:
            limit = max_bytes / 1024 / 1024
            found.skipped.append(
                (path, f"{info.st_size / 1024 / 1024:.0f} MB, larger than the {limit:.0f} MB limit")
            )
        else:
            found.stats[path] = info

    def walk(folder: Path) -> None:
        """Every entry under ``folder`` (canonical); links are considered, never walked through."""
        if folder in seen_folders:
            return
        seen_folders.add(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return  # an unreadable sub-folder is left out, as os.walk does
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                found.skipped.append((path, f"cannot read ({exc.strerror or exc})"))
                continue
            if stat.S_ISDIR(info.st_mode):
                walk(path)
            else:
                consider(path, info)

    for root in roots:
        if root.is_dir():
            walk(root)
        else:
            consider(root)
    found.files = sorted(found.stats)
    found.skipped.sort()
    return found


def read_file(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``; ``UnreadableFileError`` for anything else or a file
    over ``max_bytes``. It opens without blocking, so a FIFO put in a file's place cannot hang it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError("not a regular file (a FIFO, device or socket)")
        if info.st_size > max_bytes:
            raise UnreadableFileError(f"larger than the {max_bytes / 1024 / 1024:.0f} MB limit")
        # a read of the size it has (a read of ``max_bytes`` would allocate that much first), then
        # of the rest of the limit should it have grown since
        data = file.read(info.st_size + 1)
        if len(data) > info.st_size:
            data += file.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise UnreadableFileError(f"larger than the {max_bytes / 1024 / 1024:.0f} MB limit")
    return data


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return decode_bytes(data)
    except UndecodableError as exc:
        raise UnreadableFileError(str(exc)) from exc


def _load_html(data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    declared = _META_CHARSET.search(data[:4096])
    text, encoding = None, None
    if declared:
        encoding = declared.group(1).decode("ascii").lower()
        codec = {"gbk": "gb18030", "gb2312": "gb18030", "big5": "cp950"}.get(encoding, encoding)
        try:
            if codecs.lookup(codec)._is_text_encoding:  # not base64, rot13, "undefined", ...
                text = data.decode(codec)
        except (UnicodeError, LookupError):
            text = None
    if text is None:
        text, encoding = _decode(data)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    return soup.get_text("\n"), encoding


def _load_pdf(data: bytes) -> tuple[str, tuple[int, ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
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


def _load_docx(data: bytes) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFileError(f"broken .docx file ({exc})") from exc
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def load_document(path: str | os.PathLike, data: bytes | None = None) -> Document:
    """Load one file (``data``: its bytes, when the caller has read them); raise
    ``UnreadableFileError`` with the reason when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFileError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    data = read_file(path) if data is None else data
    if not data.strip():
        raise UnreadableFileError("empty file")
    encoding, pages = None, ()
    try:
        if suffix in TEXT_SUFFIXES:
            text, encoding = _decode(data)
        elif suffix in HTML_SUFFIXES:
            text, encoding = _load_html(data)
        elif suffix == ".pdf":
            text, pages = _load_pdf(data)
        else:
            text = _load_docx(data)
    except UnreadableFileError:
        raise
    except Exception as exc:  # parsers raise dozens of types on malformed files; each is this file's reason
        raise UnreadableFileError(f"cannot parse it as {suffix} ({type(exc).__name__}: {exc})") from exc
    if suffix != ".pdf":
        text = _clean(text)
    if not text.strip():
        raise UnreadableFileError("no text in the file")
    return Document(path=path, text=text, kind=suffix.lstrip("."), encoding=encoding, page_starts=pages)
