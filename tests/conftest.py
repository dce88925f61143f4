"""Shared fixtures: the assets folder (``ZHLLAMA_ASSETS``, default ``../shared/assets``) and the real
applications' snapshots (``ZHLLAMA_APPS``, default ``../shared/apps``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def assets_root() -> Path:
    return Path(os.environ.get("ZHLLAMA_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


@pytest.fixture(scope="session")
def assets() -> Path:
    """The read-only test assets; a missing folder fails the test with what to set."""
    root = assets_root()
    if not (root / "tokenizers" / "chinese-llama-2" / "tokenizer.model").is_file():
        pytest.fail(
            f"test assets not found at {root}: set ZHLLAMA_ASSETS to the shared assets folder "
            "(the one holding tokenizers/, models/, corpus/ and qa/)"
        )
    return root


def apps_root() -> Path:
    return Path(os.environ.get("ZHLLAMA_APPS", REPO_ROOT.parent / "shared" / "apps")).resolve()


@pytest.fixture(scope="session")
def apps() -> Path:
    """The read-only snapshots of text-generation-webui and privateGPT (copy one before writing to it)."""
    root = apps_root()
    expected = ("text-generation-webui", "private-gpt-0.6.2", "private-gpt-1")
    if not all((root / name).is_dir() for name in expected):
        pytest.fail(
            f"application snapshots not found at {root}: set ZHLLAMA_APPS to the shared apps folder "
            f"(the one holding {', '.join(expected)})"
        )
    return root


@pytest.fixture(scope="session")
def tokenizer_dir(assets: Path) -> Path:
    return assets / "tokenizers" / "chinese-llama-2"


@pytest.fixture(scope="session")
def tiny_model_dir(assets: Path) -> Path:
    return assets / "models" / "tiny-zh-llama"


@pytest.fixture
def tokenizer_copy(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A writable copy of the tiny model folder's tokenizer files (never inside the repo)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    return folder


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path):
    from zhllama.core.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_dir)


# -- the tiny model on each generation backend (shared by backends, docqa and the adapters) --------


class RecordingBackend:
    """A real backend that also records each call's messages and exact prompt text, in call order.

    ``context_window`` (transformers backends only) makes the same model and tokenizer report
    another window, to test budgets; every call then checks that prompt + answer fit it.
    """

    def __init__(self, inner, context_window=None):
        from zhllama.backends import TransformersBackend

        if context_window is not None:
            inner = TransformersBackend(inner.model, inner.tokenizer, context_window=context_window)
        self.inner = inner
        self.name = inner.name
        self.model_name = inner.model_name
        self.tokenizer = inner.tokenizer
        self.window = context_window or inner.context_window
        self.messages: list[list[dict]] = []
        self.prompts: list[str] = []

    @property
    def context_window(self):
        return self.window

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def prompt_ids(self, messages, template="alpaca-2"):
        return self.inner.prompt_ids(messages, template)

    def complete(self, messages, *, template="alpaca-2", **kwargs):
        from zhllama.core.templates import get_template

        self.messages.append([dict(m) for m in messages])
        self.prompts.append(get_template(template).render(messages))
        completion = self.inner.complete(messages, template=template, **kwargs)
        if "sampling" in kwargs:
            assert completion.prompt_tokens + kwargs["sampling"].max_new_tokens <= self.window
        return completion


class WatchedBackend:
    """A backend wrapper that records how each generation ended: its token count, or the exception."""

    def __init__(self, inner) -> None:
        import threading

        self.inner, self.name, self.model_name = inner, inner.name, inner.model_name
        self.tokenizer, self.context_window = inner.tokenizer, inner.context_window
        self.ended = threading.Event()
        self.outcome = None

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def complete(self, messages, **kwargs):
        try:
            completion = self.inner.complete(messages, **kwargs)
            self.outcome = completion.completion_tokens
            return completion
        except BaseException as exc:
            self.outcome = type(exc).__name__
            raise
        finally:
            self.ended.set()


@pytest.fixture
def watched():
    """Wrap a backend so that how its generations ended can be read back: ``watched(backend)``."""
    return WatchedBackend


@pytest.fixture
def recording():
    """Wrap a backend so that the prompts it is given can be read back: ``recording(backend)``."""
    return RecordingBackend


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_dir: Path):
    from zhllama.backends import TransformersBackend

    return TransformersBackend.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def long_backend(tiny_model_dir: Path):
    """The tiny model planned for 1,024 tokens (RoPE scaling), for prompts its trained 256 cannot hold."""
    from zhllama.backends import TransformersBackend

    return TransformersBackend.from_pretrained(tiny_model_dir, context=1024)


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model converted to an f32 GGUF once per test run."""
    from zhllama.checkpoints.gguf import export_gguf

    return export_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-zh-llama.f32.gguf")


@pytest.fixture(scope="session")
def llama_cpp_backend(tiny_gguf: Path):
    from zhllama.backends import LlamaCppBackend

    return LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2)


@pytest.fixture(scope="session")
def llama_cpp_server(tiny_gguf: Path):
    """llama-cpp-python's OpenAI-compatible server on a free local port, started once, stopped after."""
    from zhllama.backends.llama_cpp_server import start_server

    with start_server(tiny_gguf, args=["--n_threads", "2", "--verbose", "False"]) as server:
        yield server


@pytest.fixture(scope="session")
def server_backend(llama_cpp_server, tokenizer_dir: Path):
    from zhllama.backends import OpenAICompatibleBackend

    return OpenAICompatibleBackend(
        llama_cpp_server.base_url,
        tokenizer_dir,
        prompt_format="chat",
        context_window=256,
        schema_style="llama-cpp-python",
    )


@pytest.fixture(params=["transformers", "llama.cpp", "openai-compatible server"])
def backend(request: pytest.FixtureRequest):
    """Each backend in turn."""
    fixture = {
        "transformers": "transformers_backend",
        "llama.cpp": "llama_cpp_backend",
        "openai-compatible server": "server_backend",
    }[request.param]
    return request.getfixturevalue(fixture)


# -- document QA: the exact token counter, split settings, stores, a CLI runner -----------------------


@pytest.fixture(scope="session")
def counter(tokenizer_dir):
    from zhllama.docqa.splitting import token_counter

    return token_counter(tokenizer_dir)


@pytest.fixture(scope="session")
def count_tokens(counter):
    return counter[0]


@pytest.fixture(scope="session")
def settings(counter):
    from zhllama.docqa.splitting import SplitSettings

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


def _write_corpus(folder: Path, count: int, paragraphs) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"doc{i:03d}.txt"
        path.write_text(paragraphs[i]["context"], encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def write_corpus():
    """``write_corpus(folder, count, paragraphs)``: one .txt file per CMRC paragraph; returns the paths."""
    return _write_corpus


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


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """docs/examples: the example documents the README's first command ingests."""
    return REPO_ROOT / "docs" / "examples"


@pytest.fixture(scope="session")
def examples_db(tmp_path_factory, tokenizer_dir, examples_dir):
    """A store (default settings) built from docs/examples with ``qa ingest``; tests only read it."""
    from click.testing import CliRunner

    from zhllama.cli import main

    db = tmp_path_factory.mktemp("examples") / "db"
    result = CliRunner().invoke(
        main, ["qa", "ingest", str(examples_dir), "--db", str(db), "--tokenizer", str(tokenizer_dir)]
    )
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="session")
def cmrc_db(tmp_path_factory, cmrc, counter):
    """A store of 40 CMRC paragraphs in 128-token chunks: many chunks to budget with."""
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings
    from zhllama.docqa.store import Store

    folder = tmp_path_factory.mktemp("cmrc")
    _write_corpus(folder / "docs", 40, cmrc)
    store = Store(db=folder / "db")
    ingest([folder / "docs"], store, counter[0], SplitSettings(128, 16, counter[1]))
    return folder / "db"
