"""The LangChain chat model over the tiny model, on each backend; a recording backend for chains."""

from collections.abc import Callable
from typing import Any

import pytest

from zhllama.adapters.langchain import ChatZhllama
from zhllama.backends import TransformersBackend


@pytest.fixture
def llm(transformers_backend: TransformersBackend) -> ChatZhllama:
    """Greedy and short, so that answers are deterministic and tests quick."""
    return ChatZhllama(backend=transformers_backend, greedy=True, repetition_penalty=1.0, max_new_tokens=8)


@pytest.fixture
def recording_llm(
    transformers_backend: TransformersBackend, recording
) -> Callable[[], tuple[ChatZhllama, Any]]:
    def make() -> tuple[ChatZhllama, Any]:
        backend = recording(transformers_backend)
        return ChatZhllama(backend=backend, greedy=True, max_new_tokens=6), backend

    return make
