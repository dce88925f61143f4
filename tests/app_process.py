"""Run a real application's own modules in a fresh Python process, from a writable copy of its checkout.

The applications keep global state in their modules (webui parses ``sys.argv`` on import and patches
transformers; privateGPT reads its profiles from the environment on import, and both of its release
lines are the package ``private_gpt``), so each check runs in its own interpreter: the checkout first
on ``PYTHONPATH``, then this repository's ``src``. The code prints one JSON line last; that is the result.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"


def copy_checkout(snapshot: Path, destination: Path) -> Path:
    """A writable copy of the read-only ``snapshot`` at ``destination``."""
    shutil.copytree(snapshot, destination)
    for path in [destination, *destination.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return destination


def run_in_checkout(checkout: Path, code: str, env: dict[str, str] | None = None, timeout: int = 600) -> Any:
    """Run ``code`` (dedented) with ``checkout`` as working folder; return the JSON its last line printed."""
    environment = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([str(checkout), str(SRC)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        raise AssertionError(f"the check in {checkout} failed (exit {done.returncode}):\n{output}")
    return json.loads(lines[-1])
