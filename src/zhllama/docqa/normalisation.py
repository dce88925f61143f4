"""Script- and width-insensitive text for indexing and querying (never for what users see).

A Simplified question must find Traditional text and the reverse, so both sides go through the
same normalisation before they are tokenised or embedded by the placeholder encoder: Unicode NFKC
(full-width letters and digits become ASCII), lower case, and OpenCC ``t2s`` (Traditional to
Simplified, character and phrase tables). Chunks keep their original text and offsets; only the
index sees the normalised form. ``NORMALISATION_VERSION`` is part of every chunk id, so a change
here re-indexes a store instead of mixing two normalisations.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

NORMALISATION_VERSION = "nfkc-lower-t2s-1"


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC Traditional-to-Simplified conversion (Simplified input comes back unchanged)."""
    return _t2s().convert(text)


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """NFKC, lower case, then Traditional to Simplified: the form both index and queries use.

    Cached for the last few thousand texts: ingest normalises each chunk for the BM25 index and
    for the placeholder vector, a batch apart."""
    return to_simplified(unicodedata.normalize("NFKC", text).lower())
