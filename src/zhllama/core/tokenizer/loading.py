"""Load the family's tokenizer from a local folder or ``tokenizer.model`` file."""

import os
from pathlib import Path
from typing import Any


def load_tokenizer(path: str | os.PathLike, fast: bool = False) -> Any:
    """Return the tokenizer at ``path`` (a model folder or a ``tokenizer.model``).

    PROTOTYPE: the tokenizer helper replaces this with the full contract.
    """
    from zhllama.core.tokenizer.sentencepiece_tokenizer import ChineseLlamaTokenizer

    path = Path(path)
    folder = path.parent if path.is_file() else path
    return ChineseLlamaTokenizer.from_pretrained(str(folder))
