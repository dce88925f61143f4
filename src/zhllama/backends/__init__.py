"""Generation backends: one protocol over transformers, llama.cpp and OpenAI-compatible servers.

``Backend.complete(messages, *, template, sampling, stop, on_text, greedy, seed, guidance_scale,
negative_prompt) -> Completion`` renders the Alpaca-2 prompt as token ids, generates with the
family's sampling defaults (CFG on transformers) and streams text; ``count_tokens`` and
``context_window`` let callers budget prompts. The LangChain
chat model, the docqa answer step and the LlamaIndex LLM are thin layers over it.

- ``TransformersBackend.from_pretrained(model_dir, context=..., rope_method=..., draft=..., lookup=...)``
- ``LlamaCppBackend.from_gguf(path, context=..., rope_method=..., draft=..., lookup=...)`` (llama-cpp-python)
- ``OpenAICompatibleBackend(base_url, tokenizer, prompt_format="ids"|"chat"|"text")``
- ``resolve_model(model=..., gguf=..., openai_base_url=...)`` / ``open_backend(spec)``: which one;
- ``generate_reply(model, tokenizer, messages)``: one reply from a ``zhllama.load`` pair.

Importing this package imports no runtime (torch, llama_cpp): each loads when a backend is built.
"""

from zhllama.backends.llama_cpp_backend import LlamaCppBackend
from zhllama.backends.openai_compatible import OpenAICompatibleBackend
from zhllama.backends.protocol import Backend, BackendError, Completion, GenerationCancelled, Messages
from zhllama.backends.selection import ModelSpec, open_backend, resolve_model
from zhllama.backends.stops import StopFilter
from zhllama.backends.transformers_backend import TransformersBackend, generate_reply

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "GenerationCancelled",
    "LlamaCppBackend",
    "Messages",
    "ModelSpec",
    "OpenAICompatibleBackend",
    "StopFilter",
    "TransformersBackend",
    "generate_reply",
    "open_backend",
    "resolve_model",
]
