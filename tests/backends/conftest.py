"""Backends over the tiny model: in-process transformers, llama.cpp on a GGUF converted here, and
llama-cpp-python's OpenAI-compatible server on a free local port (started once, stopped after)."""

from pathlib import Path

import pytest

from zhllama.backends import LlamaCppBackend, OpenAICompatibleBackend, TransformersBackend
from zhllama.backends.llama_cpp_server import start_server

THREADS = ["--n_threads", "2", "--verbose", "False"]


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zhllama.gguf_export import export_gguf

    return export_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-zh-llama.f32.gguf")


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def llama_cpp_backend(tiny_gguf: Path) -> LlamaCppBackend:
    return LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2)


@pytest.fixture(scope="session")
def llama_cpp_server(tiny_gguf: Path):
    with start_server(tiny_gguf, args=THREADS) as server:
        yield server


@pytest.fixture(scope="session")
def server_backend(llama_cpp_server, tokenizer_dir: Path) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        llama_cpp_server.base_url, tokenizer_dir, prompt_format="chat", context_window=256
    )


@pytest.fixture(params=["transformers", "llama.cpp", "openai-compatible server"])
def backend(request: pytest.FixtureRequest):
    """Each backend in turn: the protocol tests run on all three."""
    fixture = {
        "transformers": "transformers_backend",
        "llama.cpp": "llama_cpp_backend",
        "openai-compatible server": "server_backend",
    }[request.param]
    return request.getfixturevalue(fixture)
