"""docs/plugins.md documents every hook with its exact signature (datasette's rule)."""

import inspect
import re
from pathlib import Path

from zhllama import hookspecs

REPO_ROOT = Path(__file__).resolve().parents[1]


def documented_hooks() -> dict[str, str]:
    text = (REPO_ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return {
        m.group(1): m.group(0).lstrip("# ").strip() for m in re.finditer(r"^### (\w+)\(.*\)$", text, re.M)
    }


def hook_signatures() -> dict[str, str]:
    hooks = {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, "zhllama_spec")
    }
    return {name: f"{name}({', '.join(inspect.signature(fn).parameters)})" for name, fn in hooks.items()}


def test_every_hook_is_documented_with_its_exact_signature():
    assert documented_hooks() == hook_signatures()


def test_every_hook_has_a_one_line_docstring():
    for name in hook_signatures():
        doc = getattr(hookspecs, name).__doc__
        assert doc and "\n" not in doc.strip(), name
