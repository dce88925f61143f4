"""`import zhllama` (and the CLI, and loading every plugin) imports no heavy library."""

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "transformers",
    "tokenizers",
    "sentencepiece",
    "numpy",
    "safetensors",
    "langchain_core",
    "llama_index",
    "vllm",
    "gradio",
    "llama_cpp",
    "chromadb",
)

PROBE = (
    "import json, sys, zhllama, zhllama.cli, zhllama.plugins as p; p.load_plugins(); "
    "from zhllama.core.rope_scaling import methods; from zhllama.core.templates import templates; "
    "methods(); templates(); p.merged('register_adapters', {}); "
    "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
)


def test_import_zhllama_and_its_plugins_loads_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
