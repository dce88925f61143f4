"""The LlamaIndex adapter over the tiny model (three backends) and a small docqa store of CMRC paragraphs."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from zhllama.backends import Completion, LlamaCppBackend, OpenAICompatibleBackend, TransformersBackend
from zhllama.core.templates import get_template

N_PARAGRAPHS = 12


class RecordingBackend:
    """A real backend that also records the exact prompt text of every call, in call order."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.tokenizer = inner.tokenizer
        self.prompts: list[str] = []

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def prompt_ids(self, messages: Sequence[dict], template: Any = "alpaca-2") -> list[int]:
        return self.inner.prompt_ids(messages, template)

    def complete(self, messages: Sequence[dict], *, template: Any = "alpaca-2", **kwargs: Any) -> Completion:
        self.prompts.append(get_template(template).render(messages))
        return self.inner.complete(messages, template=template, **kwargs)


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def long_backend(tiny_model_dir: Path) -> TransformersBackend:
    """The tiny model planned for 1,024 tokens, so that a 384-token chunk and its prompt fit."""
    return TransformersBackend.from_pretrained(tiny_model_dir, context=1024)


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zhllama.gguf_export import export_gguf

    return export_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-zh-llama.f32.gguf")


@pytest.fixture(scope="session")
def llama_cpp_backend(tiny_gguf: Path) -> LlamaCppBackend:
    return LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2)


@pytest.fixture(scope="session")
def server_backend(tiny_gguf: Path, tokenizer_dir: Path):
    from zhllama.backends.llama_cpp_server import start_server

    with start_server(tiny_gguf, args=["--n_threads", "2", "--verbose", "False"]) as server:
        yield OpenAICompatibleBackend(
            server.base_url, tokenizer_dir, prompt_format="chat", context_window=256
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


@pytest.fixture(scope="session")
def cmrc(assets: Path) -> dict:
    """The first paragraphs of the CMRC 2018 trial set and their questions."""
    data = json.loads((assets / "qa" / "cmrc2018" / "cmrc2018_trial.squad.json").read_text(encoding="utf-8"))
    paragraphs, questions = [], []
    for article in data["data"]:
        for para in article["paragraphs"]:
            if len(paragraphs) == N_PARAGRAPHS:
                return {"paragraphs": paragraphs, "questions": questions}
            paragraphs.append(para["context"])
            questions += [(qa["question"], len(paragraphs) - 1) for qa in para["qas"]]
    return {"paragraphs": paragraphs, "questions": questions}


@pytest.fixture(scope="session")
def docqa_store(cmrc: dict, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store built exactly as `zhllama qa ingest DOCS --db DB` builds it (default settings)."""
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter
    from zhllama.docqa.store import Store

    root = tmp_path_factory.mktemp("docqa")
    docs = root / "docs"
    docs.mkdir()
    for i, text in enumerate(cmrc["paragraphs"]):
        (docs / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    count, tokenizer_id = token_counter(tokenizer_dir)
    ingest([docs], Store(db=root / "db"), count, SplitSettings(tokenizer_id=tokenizer_id))
    return Store(db=root / "db", create=False)


@pytest.fixture
def recording():
    """Wrap a backend so that the prompts it is given can be read back."""
    return RecordingBackend
