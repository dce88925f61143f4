"""``DocQAReader``: a LlamaIndex reader that reads files exactly as ``zhllama qa ingest`` does.

``SimpleDirectoryReader`` decodes text files as UTF-8 with ``errors="ignore"``, so a GBK or Big5 file
becomes mojibake with no error; ``DocQAReader`` decodes each file by docqa's rule (byte-order mark, UTF-8,
UTF-16, then GB18030 against Big5 by which reads as ordinary Chinese) and reads HTML, PDF (a document per
page, ``page_label`` as LlamaIndex's PDF reader) and DOCX with docqa's loaders.

Use it alone (``DocQAReader().load_data("docs/")``) or as ``SimpleDirectoryReader``'s extractor for the
types it reads (``file_extractor=DocQAReader.file_extractor()``). Files under a folder that cannot be read
are listed in ``skipped`` and logged.
"""

import os
from typing import Any

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from pydantic import Field

from zhllama.adapters.document_files import read_files
from zhllama.docqa.documents import SUPPORTED_SUFFIXES


class DocQAReader(BaseReader):
    """Load files and folders as LlamaIndex ``Document``s with docqa's decoding and format readers."""

    skipped: list[tuple[str, str]] = Field(default_factory=list)
    """``(file, reason)`` for every file under a folder that could not be read."""

    @classmethod
    def file_extractor(cls) -> dict[str, "DocQAReader"]:
        """``{".txt": reader, ...}`` for ``SimpleDirectoryReader(..., file_extractor=...)``."""
        reader = cls()
        return {suffix: reader for suffix in SUPPORTED_SUFFIXES}

    def load_data(
        self, file: str | os.PathLike | list[str | os.PathLike], extra_info: dict[str, Any] | None = None
    ) -> list[Document]:
        self.skipped = []
        documents = []
        for record in read_files(file, on_skip=lambda path, reason: self.skipped.append((path, reason))):
            metadata = {**record.metadata, "file_path": record.metadata["source"], **(extra_info or {})}
            if "page" in metadata:
                metadata["page_label"] = str(metadata["page"])
            documents.append(Document(text=record.text, metadata=metadata))
        return documents

    def lazy_load_data(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.load_data(*args, **kwargs))
