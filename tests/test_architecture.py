"""The layer order of docs/architecture.md holds: no import goes up a layer or sideways between
packages, there is no import cycle, and the picture in the docs is what the imports say."""

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _architecture():
    spec = importlib.util.spec_from_file_location("architecture", REPO_ROOT / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_import_goes_down_the_layers_and_none_is_circular():
    architecture = _architecture()
    graph = architecture.imports()
    assert architecture.layer_violations(graph) == []
    assert architecture.cycles(graph) == []


def test_the_picture_in_docs_architecture_is_up_to_date():
    architecture = _architecture()
    assert architecture.documented_picture() == architecture.picture(architecture.imports())


def test_every_package_has_a_layer_and_every_module_is_seen():
    architecture = _architecture()
    modules = architecture.module_names()
    assert "zhllama.patching.model_patch" in modules and "zhllama.cli.app" in modules
    for module in modules:
        architecture.layer_of(module)
