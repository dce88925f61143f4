"""Shared fixtures: the assets folder (``ZHLLAMA_ASSETS``, default ``../shared/assets``)."""

import os
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


@pytest.fixture(scope="session")
def tokenizer_dir(assets: Path) -> Path:
    return assets / "tokenizers" / "chinese-llama-2"


@pytest.fixture(scope="session")
def tiny_model_dir(assets: Path) -> Path:
    return assets / "models" / "tiny-zh-llama"


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


@pytest.fixture
def recording():
    """Wrap a backend so that the prompts it is given can be read back: ``recording(backend)``."""
    return RecordingBackend


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_dir: Path):
    from zhllama.backends import TransformersBackend

    return TransformersBackend.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model converted to an f32 GGUF once per test run."""
    from zhllama.gguf_export import export_gguf

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
        llama_cpp_server.base_url, tokenizer_dir, prompt_format="chat", context_window=256
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
