"""Run text-generation-webui end to end with the zhllama extension and check what the model gets.

    python scripts/webui_end_to_end.py WEBUI_DIR [--model-dir DIR] [--model NAME] [--json]

It installs the extension into WEBUI_DIR (``zhllama webui install``), starts webui's own
``server.py --nowebui --api --model NAME --extensions zhllama zhllama_probe`` from that checkout in
this Python (zhllama must be importable there), with a settings file that turns long context on
(1024 tokens), and talks to its OpenAI-compatible API on a free local port. ``zhllama_probe`` is a
small observer extension this script writes next to zhllama's and removes afterwards: webui calls its
``tokenizer_modifier`` with the exact ids it is about to give the model (and the request's sampling
values), and its ``setup()`` (which webui runs after the startup model is loaded and after zhllama's
``setup()``) reports the tokenizer, the rotary embedding, and drives webui's chat UI entry point
(``chat.generate_chat_reply_wrapper``) with a state built from webui's settings, as the UI's
controls start. Checked, for the stock model folder:

- ids: API chat (instruct and chat modes, two and three turns), raw ``/v1/completions``, the UI
  path: each equals SentencePiece's ids of the Alpaca-2 prompt (BOS/EOS where the template puts them);
- decoding: forced byte-fallback output (fullwidth punctuation, a newline, a rare Traditional
  character, an emoji) comes back as ``sentencepiece.decode`` gives it, whole and streamed;
- long context at startup: the model loaded by ``--model`` has the RoPE plan, requests get 1024 tokens;
- sampling per request: unset keys get upstream's values, an explicit ``temperature=1.0`` stays 1.0,
  and it does not leak into the next request;
- errors: ``max_tokens`` leaving no room for the prompt is an HTTP 400 that says what to change.

Exit status 0 when every check passes. ``tests/adapters/webui/test_webui_in_the_app.py`` runs this on
the snapshot in ``../shared/apps`` in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ASSETS = Path(
    os.environ.get("ZHLLAMA_ASSETS", Path(__file__).resolve().parents[1].parent / "shared" / "assets")
)
PROBE = "zhllama_probe"
FORCE_MARKER = "FORCE-DECODE"
DECODE_TEXT = "好的．\n崁頂在臺灣😀　全角，半角, ok"
SYSTEM = "You are a helpful assistant. 你是一个乐于助人的助手。"
CHAT_CONTEXT = "你是一个会写诗的助手。"
TURNS = [("你好", "你好！有什么可以帮你？"), ("这件事情不可能是真的吗", "天下午后的阳光很好。")]
UI_HISTORY = [["写一首诗", "床前明月光，疑是地上霜。"]]
UI_QUESTION = "再写一首关于长城的诗"
SAMPLING_CHECK = "API: unset sampling keys get upstream's values; long context gives 1024 tokens"

PROBE_SCRIPT = '''"""Observer for scripts/webui_end_to_end.py: records what webui gives the model."""
import json
import os

import torch

LOG = os.environ["ZHLLAMA_PROBE_LOG"]
MARKER = %(marker)r
_state = {"force": None, "prompt_length": 0}
params = {"display_name": "zhllama probe"}


def _log(**event):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(event, ensure_ascii=False) + "\\n")


def tokenizer_modifier(state, prompt, input_ids, input_embeds):
    ids = [int(i) for i in input_ids[0]]
    keys = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "truncation_length")
    _log(event="ids", source="api", ids=ids, prompt=prompt, sampling={k: state.get(k) for k in keys})
    _state["force"] = json.loads(os.environ["ZHLLAMA_PROBE_FORCE"]) if MARKER in prompt else None
    _state["prompt_length"] = len(ids)
    return prompt, input_ids, input_embeds


class _Force:
    def __call__(self, input_ids, scores):
        force = _state["force"]
        if force is None:
            return scores
        step = input_ids.shape[-1] - _state["prompt_length"]
        target = force[step] if step < len(force) else 2
        forced = torch.full_like(scores, float("-inf"))
        forced[:, target] = 0.0
        return forced


def logits_processor_modifier(processor_list, input_ids):
    processor_list.append(_Force())
    return processor_list


def setup():
    import modules.shared as shared
    from modules import chat

    model = shared.model
    rotary = getattr(getattr(model, "model", model), "rotary_emb", None)
    _log(
        event="startup",
        tokenizer=type(shared.tokenizer).__name__,
        rope_type=getattr(rotary, "rope_type", None),
        rope_parameters=getattr(model.config, "rope_parameters", None),
    )
    rows = json.loads(os.environ["ZHLLAMA_PROBE_UI_HISTORY"])
    state = dict(shared.settings)
    state.update(
        mode="instruct", history={"internal": rows, "visible": [list(r) for r in rows], "metadata": {}},
        name1="You", name2="AI", user_bio="", context="", custom_system_message="", greeting="",
        character_menu="Assistant", stream=False, tools=None, start_with="", chat_style="cai-chat",
        unique_id="incognito-zhllama-probe",  # incognito: webui saves no history file
        max_new_tokens=1, auto_max_new_tokens=False,  # the ids are the point, not the answer
    )
    # webui registers this extension's hooks only after setup() returns: record webui's encode instead
    from modules import text_generation

    encode = text_generation.encode

    def recording_encode(prompt, *args, **kwargs):
        ids = encode(prompt, *args, **kwargs)
        _log(event="ids", source="ui", ids=[int(i) for i in ids[0]], prompt=prompt, sampling={})
        return ids

    text_generation.encode = recording_encode
    try:
        for _ in chat.generate_chat_reply_wrapper(os.environ["ZHLLAMA_PROBE_UI_QUESTION"], state):
            pass
    except Exception as exc:
        _log(event="error", source="ui", error=repr(exc))
    finally:
        text_generation.encode = encode
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base: str, path: str, body: dict, timeout: float = 300) -> tuple[int, dict | str]:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            return exc.code, json.loads(text)
        except json.JSONDecodeError:
            return exc.code, text


def stream_chat(base: str, messages: list[dict], **body) -> str:
    """The content of a streamed chat completion, its server-sent deltas joined."""
    payload = json.dumps({"messages": messages, "stream": True, **body}).encode()
    request = urllib.request.Request(
        base + "/v1/chat/completions", data=payload, headers={"Content-Type": "application/json"}
    )
    parts = []
    with urllib.request.urlopen(request, timeout=300) as response:
        for raw in response.read().decode("utf-8").splitlines():
            line = raw.strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[len("data:") :])["choices"]:
                parts.append(choice.get("delta", {}).get("content") or "")
    return "".join(parts)


def wait_for(base: str, process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"webui exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(base + "/v1/internal/health", timeout=2):
            return
        time.sleep(1)
    raise SystemExit(f"webui did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def expected_ids(sp, messages: list[dict]) -> list[int]:
    """SentencePiece's ids of the Alpaca-2 prompt: BOS/EOS where the template puts them, and each run
    of text between them encoded as one string (what upstream's slow tokenizer does)."""
    from zhllama.core.templates import get_template

    ids: list[int] = []
    run: list[str] = []
    for segment in [*get_template("alpaca-2").segments(messages, True), None]:
        if segment is None or segment.kind in ("bos", "eos"):
            if run:
                ids.extend(sp.encode("".join(run)))
                run.clear()
            if segment is not None:
                ids.append(sp.bos_id() if segment.kind == "bos" else sp.eos_id())
        else:
            run.append(segment.text)
    return ids


def conversation(turns: list[tuple[str, str]], question: str, system: str = SYSTEM) -> list[dict]:
    messages = [{"role": "system", "content": system}]
    for user, answer in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": question}]


class Probe:
    def __init__(self, log: Path) -> None:
        self.log, self.seen = log, 0

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def new(self) -> list[dict]:
        events = self.events()
        fresh, self.seen = events[self.seen :], len(events)
        return fresh


def run_checks(webui_dir: Path, model_dir: Path, model: str) -> list[dict]:
    import sentencepiece

    from zhllama.adapters.webui import installer

    sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / model / "tokenizer.model"))
    installer.install(webui_dir)
    probe_dir = webui_dir / "user_data" / "extensions" / PROBE
    results: list[dict] = []

    def check(name: str, ok: bool, detail: object = "") -> None:
        results.append({"check": name, "ok": bool(ok), "detail": detail if not ok else ""})

    with tempfile.TemporaryDirectory(prefix="zhllama-webui-") as tmp:
        log, settings = Path(tmp) / "probe.jsonl", Path(tmp) / "settings.yaml"
        settings.write_text("zhllama-long_context: true\nzhllama-target_context: 1024\n", encoding="utf-8")
        probe_dir.mkdir(parents=True, exist_ok=True)
        (probe_dir / "script.py").write_text(PROBE_SCRIPT % {"marker": FORCE_MARKER}, encoding="utf-8")
        port = free_port()
        env = {
            **os.environ,
            "ZHLLAMA_PROBE_LOG": str(log),
            "ZHLLAMA_PROBE_FORCE": json.dumps(sp.encode(DECODE_TEXT)),
            "ZHLLAMA_PROBE_UI_HISTORY": json.dumps(UI_HISTORY, ensure_ascii=False),
            "ZHLLAMA_PROBE_UI_QUESTION": UI_QUESTION,
        }
        argv = [
            sys.executable, "server.py", "--nowebui", "--api", "--api-port", str(port), "--cpu",
            "--model-dir", str(model_dir), "--model", model, "--settings", str(settings),
            "--extensions", "zhllama", PROBE,
        ]  # fmt: skip
        server_log = Path(tmp) / "server.log"
        with server_log.open("w") as out:
            process = subprocess.Popen(argv, cwd=webui_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        probe = Probe(log)
        try:
            wait_for(base, process, server_log)
            results += startup_checks(probe.new(), sp)
            results += api_checks(base, probe, sp, check)
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
            shutil.rmtree(probe_dir, ignore_errors=True)
            if any(not r["ok"] for r in results):
                results.append(
                    {"check": "server log (tail)", "ok": True, "detail": server_log.read_text()[-3000:]}
                )
    return results


def startup_checks(events: list[dict], sp) -> list[dict]:
    startup = next((e for e in events if e["event"] == "startup"), {})
    ui = [e for e in events if e["event"] == "ids" and e["source"] == "ui"]
    turns = [(q, a) for q, a in UI_HISTORY]
    want = expected_ids(sp, conversation(turns, UI_QUESTION))
    return [
        {
            "check": "startup model: zhllama's exact tokenizer",
            "ok": startup.get("tokenizer") == "ChineseLlamaTokenizer",
            "detail": startup.get("tokenizer"),
        },
        {
            "check": "startup model: long context applied (--model loads before setup())",
            "ok": str(startup.get("rope_type", "")).startswith("zhllama_"),
            "detail": startup.get("rope_parameters"),
        },
        {
            "check": "UI path (generate_chat_reply_wrapper), instruct, two turns: ids = SentencePiece's",
            "ok": bool(ui) and ui[-1]["ids"] == want,
            "detail": {
                "got": ui[-1]["ids"] if ui else None,
                "want": want,
                "errors": [e for e in events if e["event"] == "error"],
            },
        },
    ]


def api_checks(base: str, probe: Probe, sp, check) -> list[dict]:
    results: list[dict] = []

    def chat(messages: list[dict], **body) -> tuple[int, dict | str, list[dict]]:
        body = {"messages": messages, "max_tokens": 1, **body}  # the ids are the point, not the answer
        status, answer = post(base, "/v1/chat/completions", body)
        return status, answer, [e for e in probe.new() if e["event"] == "ids"]

    def as_api(messages: list[dict]) -> list[dict]:
        return [m for m in messages if m["role"] != "system"]

    for mode, system, extra in (("instruct", SYSTEM, {}), ("chat", CHAT_CONTEXT, {"context": CHAT_CONTEXT})):
        for n in (1, 2):
            messages = conversation(TURNS[:n], "请再说一遍", system=system)
            status, answer, seen = chat(as_api(messages), mode=mode, **extra)
            want = expected_ids(sp, messages)
            got = seen[-1]["ids"] if seen else None
            results.append(
                {
                    "check": f"API chat, {mode} mode, {n + 1} turns: ids = SentencePiece's",
                    "ok": status == 200 and got == want,
                    "detail": {
                        "status": status,
                        "got": got,
                        "want": want,
                        "answer": answer if status != 200 else "",
                    },
                }
            )
            if mode == "instruct" and n == 1:
                sampling = seen[-1]["sampling"] if seen else {}
                results.append(
                    {
                        "check": SAMPLING_CHECK,
                        "ok": sampling.get("temperature") == 0.2
                        and sampling.get("top_k") == 40
                        and sampling.get("top_p") == 0.9
                        and sampling.get("repetition_penalty") == 1.1
                        and sampling.get("truncation_length") == 1024,
                        "detail": sampling,
                    }
                )

    messages = conversation(TURNS[:2], "请再说一遍")
    prompt = "<s>" + _render(messages)
    status, answer = post(base, "/v1/completions", {"prompt": prompt, "max_tokens": 1})
    seen = [e for e in probe.new() if e["event"] == "ids"]
    results.append(
        {
            "check": "API /v1/completions, the rendered 3-turn prompt: ids = SentencePiece's",
            "ok": status == 200 and bool(seen) and seen[-1]["ids"] == expected_ids(sp, messages),
            "detail": {"status": status, "got": seen[-1]["ids"] if seen else None},
        }
    )

    question = [{"role": "user", "content": "你好"}]
    _, _, explicit = chat(question, temperature=1.0)
    _, _, after = chat(question)
    temperatures = [e["sampling"]["temperature"] for e in (*explicit[-1:], *after[-1:])]
    results.append(
        {
            "check": "API: explicit temperature=1.0 stays 1.0, and the next request without one gets 0.2",
            "ok": temperatures == [1.0, 0.2],
            "detail": temperatures,
        }
    )

    status, answer, _ = chat([{"role": "user", "content": f"{FORCE_MARKER} 你好"}], max_tokens=40)
    content = answer["choices"][0]["message"]["content"] if status == 200 else answer
    want = sp.decode(sp.encode(DECODE_TEXT))
    results.append(
        {
            "check": "decoding: forced byte-fallback output comes back as SentencePiece decodes it",
            "ok": content == want,
            "detail": {"got": content, "want": want},
        }
    )
    streamed = stream_chat(base, [{"role": "user", "content": f"{FORCE_MARKER} 你好"}], max_tokens=40)
    probe.new()
    results.append(
        {
            "check": "decoding, streamed token by token as the chat window shows it: SentencePiece's text",
            "ok": streamed == want,
            "detail": {"got": streamed, "want": want},
        }
    )

    status, answer, _ = chat(question, max_tokens=600, truncation_length=512)
    message = json.dumps(answer, ensure_ascii=False)
    results.append(
        {
            "check": "errors: max_tokens leaving no room is an HTTP 400 saying what to change",
            "ok": status == 400 and "max_new_tokens (600)" in message and "below 512" in message,
            "detail": {"status": status, "body": answer},
        }
    )
    return results


def _render(messages: list[dict]) -> str:
    from zhllama.core.templates import get_template

    return get_template("alpaca-2").render(messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("webui_dir", type=Path, help="a text-generation-webui checkout (server.py, modules/)")
    parser.add_argument("--model-dir", type=Path, default=ASSETS / "models", help="webui's --model-dir")
    parser.add_argument("--model", default="tiny-zh-llama", help="a model folder name inside --model-dir")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run_checks(args.webui_dir.resolve(), args.model_dir.resolve(), args.model)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        for result in results:
            print(("ok    " if result["ok"] else "FAIL  ") + result["check"])
            if result["detail"]:
                print("      ", json.dumps(result["detail"], ensure_ascii=False)[:2000])
    return 0 if all(result["ok"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
