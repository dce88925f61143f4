"""Stand-ins for the webui modules the hooks import lazily, and a fresh extension per test.

Only what the hooks touch is stubbed; the values are webui's own (2026 snapshot, see
docs/webui.md): neutral sampling defaults, the 'Top-P' startup preset, ``bos_token='<s>'``.
"""

import importlib
import sys
import types
from pathlib import Path

import pytest

WEBUI_DEFAULTS = {
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "max_new_tokens": 512,
    "truncation_length": 8192,
}
STARTUP_PRESET = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.0}


# webui's "API generation defaults" (its argparse defaults)
WEBUI_ARGS = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.0}


@pytest.fixture
def webui(monkeypatch, tmp_path):
    """A fake ``modules`` package: shared, models, presets, utils."""
    package = types.ModuleType("modules")
    package.__path__ = []
    shared = types.ModuleType("modules.shared")
    shared.model = shared.tokenizer = None
    shared.model_name = "None"
    shared.bos_token = "<s>"
    shared.eos_token = "</s>"
    shared.default_settings = dict(WEBUI_DEFAULTS)
    shared.settings = {**WEBUI_DEFAULTS, **STARTUP_PRESET, "preset": "Top-P"}
    shared.args = types.SimpleNamespace(model_dir=str(tmp_path / "models"), loader=None, **WEBUI_ARGS)
    shared.provided_arguments = []
    models = types.ModuleType("modules.models")
    models.transformers_loader = lambda model_name: ("model", model_name)
    presets = types.ModuleType("modules.presets")
    presets.load_preset = lambda name: {**WEBUI_DEFAULTS, **STARTUP_PRESET} if name == "Top-P" else {}
    utils = types.ModuleType("modules.utils")
    utils.resolve_model_path = lambda name: Path(shared.args.model_dir) / name
    for name, module in (("shared", shared), ("models", models), ("presets", presets), ("utils", utils)):
        setattr(package, name, module)
        monkeypatch.setitem(sys.modules, f"modules.{name}", module)
    monkeypatch.setitem(sys.modules, "modules", package)
    return package


@pytest.fixture
def ext(webui):
    """The extension module with fresh params and no remembered state."""
    from zhllama.adapters.webui import extension

    return importlib.reload(extension)


@pytest.fixture
def webui_checkout(tmp_path) -> Path:
    """The files that make a folder a webui checkout (contents do not matter to the installer)."""
    root = tmp_path / "text-generation-webui"
    for name in ("server.py", "modules/extensions.py", "modules/shared.py", "modules/chat.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# webui\n")
    (root / "user_data" / "instruction-templates").mkdir(parents=True)
    return root
