"""Fixtures for the vLLM adapter's tests, which run in .venv-vllm (scripts/test's second step).

vLLM is imported for real here; on a machine without a GPU its rotary embeddings are built
inside a CPU ``VllmConfig``, and the tiny shared model is served only in benchmarks/gpu_vllm.sh.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

SERVED_CONTEXT = 1024
"""4x the tiny model's trained context of 256 tokens."""


@pytest.fixture(scope="session")
def tiny_config(tiny_model_dir: Path) -> dict:
    return json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def served_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny model as a user would serve it: its own folder with the tokenizer fixed once.

    Large files are linked, not copied; the shared assets stay untouched.
    """
    from zhllama.core.tokenizer.runtime_check import fix_folder

    folder = tmp_path_factory.mktemp("tiny-zh-llama")
    for path in tiny_model_dir.iterdir():
        if path.suffix in (".safetensors", ".model"):
            os.symlink(path, folder / path.name)
        else:
            shutil.copyfile(path, folder / path.name)
    fix_folder(folder)
    return folder


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
