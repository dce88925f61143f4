"""Every supported format loads as text; unusable files raise with the reason ingest reports."""

import pytest

from sample_files import two_page_pdf
from zhllama.docqa.documents import UnreadableFileError, discover, load_document


def test_gbk_and_big5_text_files_load_as_unicode(tmp_path):
    (tmp_path / "cn.txt").write_bytes("北京是中国的首都。".encode("gbk"))
    (tmp_path / "tw.md").write_bytes("# 標題\n\n臺北是臺灣的首都。".encode("big5"))
    cn, tw = load_document(tmp_path / "cn.txt"), load_document(tmp_path / "tw.md")
    assert (cn.text, cn.encoding) == ("北京是中国的首都。", "gb18030")
    assert (tw.text, tw.encoding) == ("# 標題\n\n臺北是臺灣的首都。", "big5")


def test_html_keeps_visible_text_and_drops_scripts_and_styles(tmp_path):
    html = (
        '<html><head><meta charset="gbk"><title>t</title><style>p{}</style></head>'
        "<body><h1>长城</h1><script>var x = '不要';</script><p>长城是古代的防御工程。</p></body></html>"
    )
    (tmp_path / "page.html").write_bytes(html.encode("gbk"))
    text = load_document(tmp_path / "page.html").text
    assert "长城是古代的防御工程。" in text and "长城" in text
    assert "不要" not in text and "p{}" not in text


def test_docx_paragraphs_and_tables_load(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("第一段：黄河是中国第二长河。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "长江"
    table.rows[0].cells[1].text = "6300公里"
    document.save(tmp_path / "rivers.docx")
    text = load_document(tmp_path / "rivers.docx").text
    assert "黄河是中国第二长河。" in text and "长江\t6300公里" in text


def test_pdf_text_loads_with_the_page_of_each_offset(tmp_path):
    two_page_pdf(tmp_path / "book.pdf")
    document = load_document(tmp_path / "book.pdf")
    second = document.text.index("Second page")
    assert document.page_at(0) == 1
    assert document.page_at(second) == 2


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\n", "empty file"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("broken.pdf", b"%PDF-1.4 not really", "PDF"),
        ("broken.docx", b"not a zip", "docx"),
        ("photo.jpg", b"\xff\xd8\xff", "unsupported file type"),
    ],
)
def test_unusable_files_raise_with_the_reason(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableFileError, match=reason):
        load_document(tmp_path / name)


def test_discover_walks_folders_skips_hidden_entries_and_sorts(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/2.txt", "a.txt", ".hidden.txt", ".git/x.txt"):
        (tmp_path / name).write_text("字", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path]).files] == ["a.txt", "b/2.txt"]
