"""The LangChain chat model over the tiny model, on each backend; a recording backend for chains."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from zhllama.adapters.langchain import ChatZhllama
from zhllama.backends import Completion, TransformersBackend
from zhllama.core.templates import get_template


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


@pytest.fixture
def llm(transformers_backend: TransformersBackend) -> ChatZhllama:
    """Greedy and short, so that answers are deterministic and tests quick."""
    return ChatZhllama(backend=transformers_backend, greedy=True, repetition_penalty=1.0, max_new_tokens=8)


@pytest.fixture
def recording_llm(
    transformers_backend: TransformersBackend,
) -> Callable[[], tuple[ChatZhllama, RecordingBackend]]:
    def make() -> tuple[ChatZhllama, RecordingBackend]:
        backend = RecordingBackend(transformers_backend)
        return ChatZhllama(backend=backend, greedy=True, max_new_tokens=6), backend

    return make
