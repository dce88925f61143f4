"""`zhllama qa chat`: questions from stdin, history carried and truncated, each answer grounded."""

import json

from click.testing import CliRunner

from zhllama.cli import main

QUESTIONS = "长城有多长？\n台湾高铁全长多少公里？\n"


def chat(db, *extra):
    args = ["qa", "chat", "--db", str(db), "--json", "--max-new-tokens", "6", "--greedy", *extra]
    result = CliRunner().invoke(main, args, input=QUESTIONS)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_two_questions_are_answered_in_turn_with_history_and_their_own_sources(examples_db):
    first, second = chat(examples_db)
    assert first["history_turns"] == 0 and second["history_turns"] == 1
    assert first["sources"][0]["file"].endswith("长城.md")
    assert second["sources"][0]["file"].endswith("臺灣高鐵.txt"), "retrieval follows the latest question"


def test_history_is_dropped_when_its_budget_is_small(examples_db):
    _, second = chat(examples_db, "--history-tokens", "40")
    assert second["history_turns"] == 0 and second["answer"]


def test_text_mode_prints_each_answer_with_sources(examples_db):
    result = CliRunner().invoke(
        main, ["qa", "chat", "--db", str(examples_db), "--max-new-tokens", "4", "--greedy"], input=QUESTIONS
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("sources:") == 2
