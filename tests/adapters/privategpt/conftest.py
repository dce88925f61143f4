"""Writable copies of the two privateGPT snapshots, and a profile written into one by the CLI.

Each copy is made once per session; a test that writes a profile uses its own copy (``checkout``).
Checks run privateGPT's own modules in a fresh interpreter (``app_process.run_in_checkout``).
"""

from pathlib import Path

import pytest
from click.testing import CliRunner

from app_process import copy_checkout
from zhllama.cli import main

SNAPSHOTS = {"0.6": "private-gpt-0.6.2", "1": "private-gpt-1"}


@pytest.fixture
def checkout(apps: Path, tmp_path: Path):
    """``checkout("0.6")`` / ``checkout("1")``: a fresh writable copy of that release line's snapshot."""

    def make(version: str) -> Path:
        return copy_checkout(apps / SNAPSHOTS[version], tmp_path / SNAPSHOTS[version])

    return make


@pytest.fixture
def write_profile():
    """``write_profile(checkout, *options)``: ``zhllama privategpt profile --out CHECKOUT OPTIONS``."""

    def write(folder: Path, *options: str) -> str:
        result = CliRunner().invoke(main, ["privategpt", "profile", "--out", str(folder), *options])
        assert result.exit_code == 0, result.output
        return result.output

    return write
