"""Fixtures for document QA: the exact token counter, split settings, stores, and a CLI runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zhllama.docqa.splitting import SplitSettings, token_counter


@pytest.fixture(scope="session")
def counter(tokenizer_dir):
    return token_counter(tokenizer_dir)


@pytest.fixture(scope="session")
def count_tokens(counter):
    return counter[0]


@pytest.fixture(scope="session")
def settings(counter):
    return SplitSettings(chunk_tokens=64, overlap_tokens=16, tokenizer_id=counter[1])


@pytest.fixture
def store(tmp_path):
    from zhllama.docqa.store import Store

    return Store(db=tmp_path / "db")


@pytest.fixture(scope="session")
def cmrc(assets):
    data = json.loads((assets / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json").read_text(encoding="utf-8"))
    return [p for article in data["data"] for p in article["paragraphs"]]


@pytest.fixture
def cli_env(tokenizer_dir, tmp_path):
    """Environment for ``zhllama`` subprocesses: our tokenizer, and a private cache folder."""
    return {**os.environ, "ZHLLAMA_TOKENIZER": str(tokenizer_dir), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def run_cli(cli_env):
    """Run ``zhllama ARGS...`` in a real subprocess; returns the CompletedProcess."""

    def run(*args, check=True, env=None):
        result = subprocess.run(
            [sys.executable, "-c", "from zhllama.cli import main; main()", *map(str, args)],
            capture_output=True,
            text=True,
            env=env or cli_env,
            timeout=180,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"zhllama {' '.join(map(str, args))} failed:\n{result.stderr}")
        return result

    return run


def write_corpus(folder: Path, count: int, paragraphs) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"doc{i:03d}.txt"
        path.write_text(paragraphs[i]["context"], encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def make_runner(transformers_backend, recording):
    """``make_runner(window=None, max_new_tokens=4) -> PromptRunner`` over a ``RecordingBackend`` (greedy)."""
    from dataclasses import replace

    from zhllama.core.sampling import UPSTREAM
    from zhllama.docqa.runner import PromptRunner

    def make(window=None, max_new_tokens=4, **kwargs):
        backend = recording(transformers_backend, window)
        return PromptRunner(
            backend, sampling=replace(UPSTREAM, max_new_tokens=max_new_tokens), greedy=True, **kwargs
        )

    return make


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="session")
def examples_db(tmp_path_factory, tokenizer_dir):
    """A store (default settings) built from docs/examples with ``qa ingest``; tests only read it."""
    from click.testing import CliRunner

    from zhllama.cli import main

    db = tmp_path_factory.mktemp("examples") / "db"
    result = CliRunner().invoke(
        main, ["qa", "ingest", str(EXAMPLES), "--db", str(db), "--tokenizer", str(tokenizer_dir)]
    )
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="session")
def cmrc_db(tmp_path_factory, cmrc, counter):
    """A store of 40 CMRC paragraphs in 128-token chunks: many chunks to budget with."""
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.store import Store

    folder = tmp_path_factory.mktemp("cmrc")
    write_corpus(folder / "docs", 40, cmrc)
    store = Store(db=folder / "db")
    ingest([folder / "docs"], store, counter[0], SplitSettings(128, 16, counter[1]))
    return folder / "db"
