"""Fixtures for the vLLM adapter's tests, which run in .venv-vllm (scripts/test's second step).

vLLM is imported for real here; on a machine without a GPU its rotary embeddings are built
inside a CPU ``VllmConfig``, and the tiny shared model is served only in benchmarks/gpu_vllm.sh.
"""

import json
from pathlib import Path

import pytest

SERVED_CONTEXT = 1024
"""4x the tiny model's trained context of 256 tokens."""


@pytest.fixture(scope="session")
def tiny_config(tiny_model_dir: Path) -> dict:
    return json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def served_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny model as a user would serve it: a fixed copy (weights linked, assets untouched)."""
    from zhllama.core.tokenizer.runtime_check import fixed_copy

    return fixed_copy(tiny_model_dir, tmp_path_factory.mktemp("served") / "tiny-zh-llama")


@pytest.fixture
def cpu_vllm_config():
    """vLLM's current config set to a CPU device, as model construction would have it."""
    from vllm.config import DeviceConfig, VllmConfig, set_current_vllm_config

    with set_current_vllm_config(VllmConfig(device_config=DeviceConfig(device="cpu"))):
        yield


@pytest.fixture
def plugin_installed():
    """zhllama's get_rope wrapper installed for one test, vLLM's own function restored after it."""
    from zhllama.adapters.vllm import plugin

    plugin.install()
    yield plugin
    plugin.uninstall()
