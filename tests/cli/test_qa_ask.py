"""`zhllama qa ask`: end to end with the tiny shared model over a store of docs/examples."""

import json
import os

from click.testing import CliRunner

from zhllama.cli import main

FAST = ["--max-new-tokens", "6", "--greedy"]


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_ask_streams_an_answer_then_lists_its_sources_with_file_and_score(examples_db):
    result = run("qa", "ask", "长城有多长？", "--db", examples_db, *FAST)
    assert result.exit_code == 0, result.output
    answer, sources = result.stdout.split("sources:")
    assert answer.strip(), "the tiny model answers badly, but it answers"
    first = sources.strip().splitlines()[0]
    assert first.startswith("[1] ") and "长城.md  chars 0-" in first
    assert float(first.split()[1]) > 0


def test_ask_as_json_gives_answer_sources_and_timings(examples_db):
    result = run("qa", "ask", "台湾高铁全长多少公里？", "--db", examples_db, "--json", *FAST)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] and data["chain"] == "stuff" and data["model"]["kind"] == "transformers"
    top = data["sources"][0]
    assert top["file"].endswith("臺灣高鐵.txt") and top["score"] > 0 and top["rank"] == 1
    assert {"file", "start", "end", "page", "chunk", "rank", "score", "citation"} <= set(top)
    timings = data["timings"]
    assert 0 < timings["retrieval_s"] <= timings["first_token_s"] <= timings["total_s"]


def test_ingest_option_builds_the_store_first_and_is_idempotent(tmp_path, tokenizer_dir, examples_dir):
    db = tmp_path / "db"
    env = {"ZHLLAMA_TOKENIZER": str(tokenizer_dir)}
    first = run("qa", "ask", "熊猫吃什么？", "--db", db, "--ingest", examples_dir, "--json", *FAST, env=env)
    assert first.exit_code == 0, first.output
    assert "4 added" in first.stderr
    assert json.loads(first.stdout)["sources"][0]["file"].endswith("熊猫.html")
    again = run("qa", "ask", "熊猫吃什么？", "--db", db, "--ingest", examples_dir, "--json", *FAST, env=env)
    assert "4 unchanged" in again.stderr


def test_without_any_model_it_says_how_to_point_at_one(examples_db):
    env = {"ZHLLAMA_ASSETS": os.devnull + "/none", "ZHLLAMA_MODEL": ""}
    result = run("qa", "ask", "长城有多长？", "--db", examples_db, env=env)
    assert result.exit_code == 1
    assert (
        "--model (a local Chinese-Alpaca-2 folder" in result.output and "--gguf (a GGUF file" in result.output
    )
    assert "`zhllama qa search`" in result.output
    search = run("qa", "search", "长城有多长？", "--db", examples_db, env=env)
    assert search.exit_code == 0 and "长城.md" in search.output


def test_missing_and_empty_stores_are_clean_errors(tmp_path):
    missing = run("qa", "ask", "长城有多长？", "--db", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no docqa store at" in missing.output and "qa ingest" in missing.output
    empty = tmp_path / "empty"
    (empty / "docs").mkdir(parents=True)
    assert run("qa", "ingest", empty / "docs", "--db", empty / "db").exit_code == 0
    result = run("qa", "ask", "长城有多长？", "--db", empty / "db")
    assert result.exit_code == 1 and "holds no documents" in result.output
    assert "Traceback" not in result.output
