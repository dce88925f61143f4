"""Decode the bytes of a Chinese text file: UTF-8 (with or without BOM), UTF-16/32, GB18030, Big5.

General detectors guess poorly on short Chinese text (charset-normalizer reads a Big5 sentence as
Johab), so the rule here is explicit and checked in this order:

1. a byte-order mark decides (UTF-8, UTF-32, UTF-16);
2. bytes that are valid UTF-8 are UTF-8 (legacy CJK bytes almost never are);
3. BOM-less UTF-16 (LE or BE) is taken when it decodes to plausible text;
4. NUL bytes left after that mean binary;
5. GB18030 (a superset of GBK and GB2312) and Big5 (cp950) are both tried strictly; the one whose
   non-ASCII characters are more often *expected* (common hanzi in GB2312 or Big5 level 1, CJK
   punctuation, full-width forms) wins; a misread gives kana, rare hanzi and symbols instead.

``decode_bytes`` returns ``(text, encoding)`` or raises ``UndecodableError`` with the reason,
which ingest reports for the file (never a silent skip).
"""

from __future__ import annotations

import codecs
import unicodedata

from zhllama.errors import DocQAError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LEGACY = ("gb18030", "cp950")
_CJK_PUNCTUATION = set("，。！？；：、「」『』（）《》〈〉“”‘’…—·【】～％＋－／　")
_MIN_PLAUSIBLE = 0.8


class UndecodableError(DocQAError):
    """The bytes are binary or in no encoding this loader knows; the message says which."""


def _is_expected(char: str) -> bool:
    if char in _CJK_PUNCTUATION or char.isspace():
        return True
    if "\uff01" <= char <= "\uff5e":  # full-width ASCII forms
        return True
    try:
        char.encode("gb2312")
        return "\u4e00" <= char <= "\u9fff" or unicodedata.category(char)[0] in "PN"
    except UnicodeEncodeError:
        pass
    try:
        code = int.from_bytes(char.encode("cp950"), "big")
    except UnicodeEncodeError:
        return False
    return 0xA440 <= code <= 0xC67E  # Big5 level 1: the frequent hanzi


def plausibility(text: str) -> float:
    """Share of the non-ASCII characters of ``text`` that ordinary Chinese prose is made of."""
    wide = [c for c in text if ord(c) > 0x7F]
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if controls > max(2, len(text) // 100):
        return 0.0
    if not wide:
        return 1.0
    return sum(map(_is_expected, wide)) / len(wide)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf8_cut_short(data: bytes) -> str | None:
    """``data`` as UTF-8 when it is valid but for an incomplete character at its very end (a file cut
    off mid-write, or by ``head -c``): that broken tail, at most 3 bytes, is dropped."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)`` for ``data``; raise ``UndecodableError`` for binary or unknown bytes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data, encoding)
            if text is None:
                raise UndecodableError(
                    f"starts with a {encoding} byte-order mark but is not valid {encoding}"
                )
            return text, encoding
    text = _strict(data, "utf-8")
    if text is None:
        text = _utf8_cut_short(data)
    if text is not None and "\x00" not in text:
        return text, "utf-8"
    if (len(data) % 2 == 0 and b"\x00" in data) or (len(data) % 2 == 0 and text is None):
        best = max(
            ((plausibility(t), enc, t) for enc in ("utf-16-le", "utf-16-be") if (t := _strict(data, enc))),
            default=None,
        )
        if best and best[0] >= 0.95 and "\x00" not in best[2]:
            return best[2], best[1]
    if b"\x00" in data:
        raise UndecodableError("binary file (contains NUL bytes)")
    candidates = [(plausibility(t), enc, t) for enc in _LEGACY if (t := _strict(data, enc)) is not None]
    if not candidates:
        raise UndecodableError("not valid UTF-8, UTF-16, GB18030 or Big5 text")
    score, encoding, text = max(candidates, key=lambda c: (c[0], c[1] == "gb18030"))
    if score < _MIN_PLAUSIBLE:
        raise UndecodableError(
            f"unknown encoding or binary data (best guess {encoding} reads as "
            f"{score:.0%} ordinary Chinese text)"
        )
    return text, "big5" if encoding == "cp950" else encoding
