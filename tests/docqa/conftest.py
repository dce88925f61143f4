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
