"""Chinese text files decode right whatever their encoding; binary and unknown bytes are refused."""

import codecs

import pytest

from zhllama.docqa.encodings import UndecodableError, decode_bytes

SIMPLIFIED = "今天天气很好，我们去公园散步吧。北京是中国的首都。"
TRADITIONAL = "臺灣的資料庫與軟體工程師在這裡開會。這是一個測試。"


@pytest.mark.parametrize(
    ("text", "encoded", "expected"),
    [
        (SIMPLIFIED, SIMPLIFIED.encode("utf-8"), "utf-8"),
        (SIMPLIFIED, codecs.BOM_UTF8 + SIMPLIFIED.encode("utf-8"), "utf-8-sig"),
        (SIMPLIFIED, SIMPLIFIED.encode("utf-16"), "utf-16"),
        (SIMPLIFIED, codecs.BOM_UTF16_BE + SIMPLIFIED.encode("utf-16-be"), "utf-16"),
        (SIMPLIFIED, SIMPLIFIED.encode("utf-16-le"), "utf-16-le"),
        (SIMPLIFIED, SIMPLIFIED.encode("gbk"), "gb18030"),
        (SIMPLIFIED, SIMPLIFIED.encode("gb18030"), "gb18030"),
        (TRADITIONAL, TRADITIONAL.encode("big5"), "big5"),
        (TRADITIONAL, TRADITIONAL.encode("gb18030"), "gb18030"),
        ("中文", "中文".encode("big5"), "big5"),
    ],
)
def test_each_supported_encoding_decodes_to_the_original_text(text, encoded, expected):
    assert decode_bytes(encoded) == (text, expected)


def test_bytes_with_nul_that_are_not_utf16_are_binary():
    with pytest.raises(UndecodableError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")


def test_random_bytes_are_refused_with_a_reason():
    with pytest.raises(UndecodableError, match=r"not valid|unknown encoding"):
        decode_bytes(bytes(range(128, 256)) * 3)


def test_utf8_cut_inside_its_last_character_keeps_everything_before_it():
    whole = "长江是中国最长的河流。黄河".encode()
    for cut in (1, 2):  # 黄/河 are three bytes each: one or two bytes of the last one are left
        assert decode_bytes(whole[:-cut]) == ("长江是中国最长的河流。黄", "utf-8")
    with pytest.raises(UndecodableError):
        decode_bytes(whole[:4] + b"\xff" + whole[4:])  # a bad byte inside is not a cut end
