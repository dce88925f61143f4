"""``from_transformers`` / ``from_llama_cpp`` / ``from_openai_compatible`` for ecosystem wrappers.

The LangChain chat model and the LlamaIndex LLM both hold a ``backend`` field; this mixin gives
both the same three constructors, which build the backend and pass every other keyword on as a
field of the wrapper.
"""

from typing import Any, Self


class BackendConstructors:
    """Mixin for a class constructed as ``cls(backend=..., **fields)``."""

    @classmethod
    def from_transformers(cls, model_dir: str, *, backend_kwargs: dict | None = None, **fields: Any) -> Self:
        """In-process transformers (``TransformersBackend.from_pretrained(model_dir, **backend_kwargs)``;
        ``backend_kwargs={"context": N}`` plans RoPE for N tokens and makes N the context window)."""
        from zhllama.backends import TransformersBackend

        return cls(backend=TransformersBackend.from_pretrained(model_dir, **(backend_kwargs or {})), **fields)

    @classmethod
    def from_llama_cpp(cls, gguf_path: str, *, backend_kwargs: dict | None = None, **fields: Any) -> Self:
        """A GGUF through llama-cpp-python (``LlamaCppBackend.from_gguf(gguf_path, **backend_kwargs)``)."""
        from zhllama.backends import LlamaCppBackend

        return cls(backend=LlamaCppBackend.from_gguf(gguf_path, **(backend_kwargs or {})), **fields)

    @classmethod
    def from_openai_compatible(
        cls, base_url: str, tokenizer: Any, *, backend_kwargs: dict | None = None, **fields: Any
    ) -> Self:
        """A server (``OpenAICompatibleBackend(base_url, tokenizer, **backend_kwargs)``)."""
        from zhllama.backends import OpenAICompatibleBackend

        return cls(backend=OpenAICompatibleBackend(base_url, tokenizer, **(backend_kwargs or {})), **fields)
