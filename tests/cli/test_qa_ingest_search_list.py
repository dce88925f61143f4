"""`zhllama qa ingest | search | list`: summaries, JSON, one JSON line per --queries question."""

import json

from click.testing import CliRunner

from zhllama.cli import main


def _docs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "great-wall.md").write_text("# 长城\n\n长城东起山海关，西至嘉峪关。", encoding="utf-8")
    (docs / "tea.txt").write_bytes("烏龍茶是臺灣的名茶。".encode("big5"))
    (docs / "empty.txt").write_bytes(b"")
    return docs


def test_ingest_prints_a_summary_with_skipped_files_and_reasons(tmp_path, tokenizer_dir):
    docs = _docs(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main, ["qa", "ingest", str(docs), "--db", str(tmp_path / "db"), "--tokenizer", str(tokenizer_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "empty.txt  (empty file)" in result.output
    assert "2 added, 0 updated, 0 unchanged, 0 deleted, 1 skipped" in result.output


def test_search_and_list_as_json(tmp_path, tokenizer_dir):
    docs = _docs(tmp_path)
    db = str(tmp_path / "db")
    runner = CliRunner()
    runner.invoke(main, ["qa", "ingest", str(docs), "--db", db, "--tokenizer", str(tokenizer_dir)])
    found = json.loads(
        runner.invoke(main, ["qa", "search", "台湾的名茶", "--db", db, "--k", "1", "--json"]).output
    )
    assert len(found["hits"]) == 1
    hit = found["hits"][0]
    assert hit["source"] == str(docs / "tea.txt") and hit["text"] == "烏龍茶是臺灣的名茶。"
    assert hit["citation"].endswith("tea.txt:0-10") and hit["score"] > 0
    listed = json.loads(runner.invoke(main, ["qa", "list", "--db", db, "--json"]).output)
    assert {(f["path"].rsplit("/", 1)[-1], f["chunks"]) for f in listed["files"]} == {
        ("great-wall.md", 1),
        ("tea.txt", 1),
    }
    assert all(len(f["sha256"]) == 64 for f in listed["files"])


def test_queries_file_prints_one_json_line_per_question(tmp_path, tokenizer_dir):
    docs = _docs(tmp_path)
    db = str(tmp_path / "db")
    runner = CliRunner()
    runner.invoke(main, ["qa", "ingest", str(docs), "--db", db, "--tokenizer", str(tokenizer_dir)])
    (tmp_path / "q.txt").write_text("长城东起哪里？\n\n乌龙茶\n", encoding="utf-8")
    result = runner.invoke(
        main, ["qa", "search", "--db", db, "--queries", str(tmp_path / "q.txt"), "--k", "1"]
    )
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["question"] for line in lines] == ["长城东起哪里？", "", "乌龙茶"], "line N answers line N"
    assert lines[0]["hits"][0]["source"].endswith("great-wall.md")
    assert lines[1]["hits"] == []
    assert lines[2]["hits"][0]["source"].endswith("tea.txt")
    (tmp_path / "gbk.txt").write_bytes("\ufeff乌龙茶\n".encode("utf-8"))  # a BOM is not part of the question
    (tmp_path / "q-gbk.txt").write_bytes("乌龙茶\n长城东起哪里？\n".encode("gbk"))
    for name, first in (("gbk.txt", "乌龙茶"), ("q-gbk.txt", "乌龙茶")):
        result = runner.invoke(main, ["qa", "search", "--db", db, "--queries", str(tmp_path / name)])
        assert json.loads(result.output.splitlines()[0])["question"] == first


def test_search_on_a_missing_store_says_to_ingest_first(tmp_path):
    result = CliRunner().invoke(main, ["qa", "search", "问题", "--db", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "ingest documents into it first" in result.output
