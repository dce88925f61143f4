"""Attacks on document QA's file reading: broken, fuzzed and special files never stop an ingest.

Every file is read in isolation: a bad one is reported with its reason and skipped, the rest are
ingested, the command exits 0 (1 only when nothing at all could be ingested) and never prints a
traceback; nothing already in the store is lost."""

import json
import os
import random
import zipfile
import zlib

import pytest

from sample_files import docx_bytes, mutate, rewrite_zip_member, two_page_pdf, write_pdf
from zhllama.docqa.documents import UnreadableFileError, discover, load_document

GOOD = {"长城.txt": "长城是中国古代的军事防御工程，东起山海关。", "黄河.md": "# 黄河\n\n黄河是中国第二长河。"}


def _loads_or_says_why(path) -> str:
    """``ok`` or the reason; any other exception fails the caller."""
    try:
        load_document(path)
        return "ok"
    except UnreadableFileError as exc:
        assert str(exc), path
        return str(exc)


def _pdf_bomb(path) -> None:
    """A PDF whose content stream inflates to 100 MB (pypdf stops at its output limit)."""
    stream = zlib.compress(b" " * 100_000_000, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    write_pdf(path, objects)


def test_150_docx_files_with_mutated_xml_load_or_give_a_reason(tmp_path):
    rng = random.Random(150)
    good = docx_bytes("第一段：黄河是中国第二长河。", "第二段：长江。")
    outcomes = []
    for number in range(150):
        path = tmp_path / f"m{number}.docx"
        path.write_bytes(rewrite_zip_member(good, "word/document.xml", lambda xml: mutate(xml, rng, 4)))
        outcomes.append(_loads_or_says_why(path))
    assert len(outcomes) == 150
    assert any(outcome != "ok" for outcome in outcomes), "the mutations must break some files"


def test_300_mutated_pdfs_load_or_give_a_reason(tmp_path):
    rng = random.Random(300)
    two_page_pdf(tmp_path / "good.pdf")
    good = (tmp_path / "good.pdf").read_bytes()
    outcomes = []
    for number in range(300):
        path = tmp_path / f"m{number}.pdf"
        path.write_bytes(mutate(good, rng, rng.randrange(1, 8)))
        outcomes.append(_loads_or_says_why(path))
    assert any(outcome != "ok" for outcome in outcomes)


CHARSETS = ["undefined", "base64", "rot13", "zlib", "hex", "utf-7", "punycode", "idna", "utf-32", "nonsense"]


def test_html_declaring_any_charset_loads_or_gives_a_reason(tmp_path):
    rng = random.Random(100)
    names = CHARSETS + ["".join(rng.choice("abcdefgh-_0123456789") for _ in range(8)) for _ in range(90)]
    for number, charset in enumerate(names):
        path = tmp_path / f"p{number}.html"
        body = f'<html><head><meta charset="{charset}"></head><body><p>长城很长。</p></body></html>'
        path.write_bytes(body.encode("utf-8"))
        _loads_or_says_why(path)


@pytest.mark.parametrize(
    ("name", "build", "reason"),
    [
        (
            "cut.docx",
            lambda: rewrite_zip_member(docx_bytes("字"), "word/document.xml", lambda x: x[: len(x) // 2]),
            "docx",
        ),
        (
            "aes.docx",
            lambda: rewrite_zip_member(docx_bytes("字"), "word/document.xml", lambda x: x, compression=99),
            "docx",
        ),
        ("nested.html", lambda: b"<div>" * 200_000 + "深".encode(), None),
        ("zero.txt", lambda: b"\x00" * 4096, "binary"),
        ("random.pdf", lambda: random.Random(1).randbytes(4096), "PDF"),
        ("random.docx", lambda: random.Random(2).randbytes(4096), "docx"),
        ("text-as.pdf", lambda: "这不是PDF".encode(), "PDF"),
        ("crlf-only.txt", lambda: b"\r\n" * 100, "empty"),
    ],
)
def test_each_kind_of_broken_file_gives_its_reason(tmp_path, name, build, reason):
    path = tmp_path / name
    path.write_bytes(build())
    outcome = _loads_or_says_why(path)
    if reason is not None:
        assert reason in outcome


def test_a_pdf_that_inflates_past_the_parser_limit_is_refused(tmp_path):
    _pdf_bomb(tmp_path / "bomb.pdf")
    assert _loads_or_says_why(tmp_path / "bomb.pdf") != "ok"


@pytest.fixture
def hostile_folder(tmp_path):
    """Good documents among every kind of file that used to stop an ingest or leak outside it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in GOOD.items():
        (docs / name).write_text(text, encoding="utf-8")
    (docs / "undefined.html").write_bytes(b'<meta charset="undefined"><p>\xe9\x95\xbf\xe5\x9f\x8e</p>')
    (docs / "cut.docx").write_bytes(
        rewrite_zip_member(docx_bytes("字"), "word/document.xml", lambda x: x[: len(x) // 2])
    )
    (docs / "aes.docx").write_bytes(
        rewrite_zip_member(docx_bytes("字"), "word/document.xml", lambda x: x, compression=99)
    )
    _pdf_bomb(docs / "bomb.pdf")
    os.mkfifo(docs / "fifo.txt")
    os.symlink("/dev/zero", docs / "zero.txt")
    os.symlink("/proc/self/status", docs / "status.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("不应被收录的文件。", encoding="utf-8")
    os.symlink(outside, docs / "linked-folder")
    os.symlink(docs / "长城.txt", docs / "inside-link.txt")
    (docs / "big.txt").write_text("很大的文件。" * 2000, encoding="utf-8")
    with open(os.fsencode(docs) + b"/bad-\xff-name.txt", "wb") as file:
        file.write("名字不是UTF-8。".encode())
    return docs


def test_discover_lists_what_it_will_not_read_and_why(hostile_folder):
    found = discover([hostile_folder], max_bytes=10_000)
    reasons = {path.name: reason for path, reason in found.skipped}
    names = {path.name for path in found.files}
    assert "fifo.txt" in reasons and "regular file" in reasons["fifo.txt"]
    assert "outside the given folders" in reasons["zero.txt"]
    assert "outside the given folders" in reasons["status.txt"]
    assert "outside the given folders" in reasons["linked-folder"]
    assert "limit" in reasons["big.txt"]
    assert any("not valid UTF-8" in reason for reason in reasons.values())
    assert "长城.txt" in names, "a link inside the folder is read once, as its target"
    assert "secret.txt" not in names


def test_ingest_reads_every_good_file_and_reports_every_bad_one(hostile_folder, run_cli, tmp_path):
    args = ("qa", "ingest", hostile_folder, "--db", tmp_path / "db", "--max-file-mb", "0.01", "--json")
    result = run_cli(*args, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    actions = {os.path.basename(f["path"]): (f["action"], f["reason"]) for f in report["files"]}
    assert actions["长城.txt"][0] == actions["黄河.md"][0] == "added"
    assert actions["undefined.html"][0] == "added", "a charset no codec knows is ignored, the text detected"
    skipped = {name for name, (action, _) in actions.items() if action == "skipped"}
    bad = {
        "cut.docx",
        "aes.docx",
        "bomb.pdf",
        "fifo.txt",
        "zero.txt",
        "status.txt",
        "linked-folder",
        "big.txt",
    }
    assert bad <= skipped
    assert all(actions[name][1] for name in skipped), "every skip has its reason"
    again = run_cli(*args, check=False)
    assert again.returncode == 0 and json.loads(again.stdout)["summary"]["added"] == 0


def test_ingest_exits_1_when_no_file_could_be_ingested(tmp_path, run_cli):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.pdf").write_bytes(b"not a pdf")
    (tmp_path / "docs" / "b.txt").write_bytes(b"")
    result = run_cli("qa", "ingest", tmp_path / "docs", "--db", tmp_path / "db", check=False)
    assert result.returncode == 1
    assert "no file could be ingested" in result.stderr and "Traceback" not in result.stderr


def test_summarize_says_why_a_file_cannot_be_read(hostile_folder, run_cli):
    for name in ("cut.docx", "bomb.pdf", "aes.docx", "fifo.txt"):
        result = run_cli("summarize", hostile_folder / name, check=False)
        assert result.returncode == 1, name
        assert f"cannot summarize {hostile_folder / name}" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_docx_zip_with_an_unknown_compression_is_really_refused_by_zipfile():
    """The aes.docx case above is the one the issue saw (NotImplementedError from zipfile)."""
    import io

    data = rewrite_zip_member(docx_bytes("字"), "word/document.xml", lambda x: x, compression=99)
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
