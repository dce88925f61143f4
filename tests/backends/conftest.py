"""Backends over the tiny model: the fixtures (transformers, llama.cpp on a GGUF converted once,
llama-cpp-python's server on a free local port, and ``backend`` over all three) are in tests/conftest.py,
shared with docqa and the adapters."""
