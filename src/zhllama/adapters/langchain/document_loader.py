"""``DocQALoader``: a LangChain document loader that reads files exactly as ``zhllama qa ingest`` does.

LangChain's ``TextLoader`` assumes one encoding (``autodetect_encoding`` guesses with chardet, which reads
short GBK or Big5 text as other scripts); ``DocQALoader`` decodes each file by docqa's rule (byte-order
mark, UTF-8, UTF-16, then GB18030 against Big5 by which reads as ordinary Chinese) and reads HTML, PDF and
DOCX with docqa's loaders. One ``Document`` per file, or per page for a PDF (``metadata["page"]``, as
``PyPDFLoader``); files under a folder that cannot be read are listed in ``skipped`` and logged.
"""

import os
from collections.abc import Iterator, Sequence

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from zhllama.adapters.document_files import read_files


class DocQALoader(BaseLoader):
    """Load files and folders (``DocQALoader("docs/")``, ``DocQALoader(["a.txt", "b.pdf"])``)."""

    def __init__(self, paths: str | os.PathLike | Sequence[str | os.PathLike]) -> None:
        self.paths = paths
        self.skipped: list[tuple[str, str]] = []
        """``(file, reason)`` for every file under a folder that could not be read."""

    def lazy_load(self) -> Iterator[Document]:
        self.skipped = []
        for record in read_files(
            self.paths, on_skip=lambda path, reason: self.skipped.append((path, reason))
        ):
            yield Document(page_content=record.text, metadata=record.metadata)
