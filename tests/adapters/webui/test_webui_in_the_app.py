"""The extension inside the real text-generation-webui (the snapshot in ../shared/apps), end to end.

``scripts/webui_end_to_end.py`` starts webui's own ``server.py`` (API, no gradio UI: webui's custom
gradio 4.37 build is not installable here) from a copy of the snapshot with ``--model tiny-zh-llama
--extensions zhllama``, drives its OpenAI-compatible API and its chat UI entry point, and reports
what the model was given. Each check is one test here. The snapshot is trimmed of stylesheets and
characters; the copy gets empty stand-ins for the two stylesheets webui reads at import and for the
default ``Assistant`` character the API loads.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app_process import copy_checkout

REPO = Path(__file__).resolve().parents[3]
CHECKS = [
    "startup model: zhllama's exact tokenizer",
    "startup model: long context applied (--model loads before setup())",
    "UI path (generate_chat_reply_wrapper), instruct, two turns: ids = SentencePiece's",
    "API chat, instruct mode, 2 turns: ids = SentencePiece's",
    "API chat, instruct mode, 3 turns: ids = SentencePiece's",
    "API chat, chat mode, 2 turns: ids = SentencePiece's",
    "API chat, chat mode, 3 turns: ids = SentencePiece's",
    "API /v1/completions, the rendered 3-turn prompt: ids = SentencePiece's",
    "API: unset sampling keys get upstream's values; long context gives 1024 tokens",
    "API: explicit temperature=1.0 stays 1.0, and the next request without one gets 0.2",
    "decoding: forced byte-fallback output comes back as SentencePiece decodes it",
    "decoding, streamed token by token as the chat window shows it: SentencePiece's text",
    "errors: max_tokens leaving no room is an HTTP 400 saying what to change",
]
TRIMMED_STAND_INS = {
    "css/html_readable_style.css": "",
    "css/html_instruct_style.css": "",
    "user_data/characters/Assistant.yaml": "name: AI\ngreeting: How can I help you today?\ncontext: ''\n",
}


@pytest.fixture(scope="module")
def report(apps, assets, tmp_path_factory) -> dict[str, dict]:
    checkout = copy_checkout(
        apps / "text-generation-webui", tmp_path_factory.mktemp("webui") / "text-generation-webui"
    )
    for name, text in TRIMMED_STAND_INS.items():
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "webui_end_to_end.py"), str(checkout), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        results = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the script did not report (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    return {result["check"]: result for result in results}


@pytest.mark.parametrize("check", CHECKS)
def test_in_the_real_webui(report, check):
    assert check in report, f"not reported: {check}"
    result = report[check]
    assert result["ok"], json.dumps(result["detail"], ensure_ascii=False)[:3000]


def test_the_script_leaves_only_zhllamas_files_in_the_checkout(report, tmp_path_factory):
    """The observer extension it writes is removed again; the installed extension stays."""
    checkout = next(Path(tmp_path_factory.getbasetemp()).glob("webui*/text-generation-webui"))
    extensions = checkout / "user_data" / "extensions"
    assert sorted(p.name for p in extensions.iterdir()) == ["zhllama"]
