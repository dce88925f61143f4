"""What the LangChain chat model and the LlamaIndex LLM share: their fields, settings and constructors.

``ChatZhllama`` and ``ZhllamaLLM`` are both pydantic models over a ``zhllama.backends.Backend``
with upstream's sampling defaults; ``ZhllamaModelFields`` declares those fields once, turns them
plus a call's keyword overrides into ``Backend.complete`` settings, and gives both classes the
three constructors ``from_transformers`` / ``from_llama_cpp`` / ``from_openai_compatible``.
Imported only by those two adapters (it needs pydantic, which both ecosystems bring).
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE

SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")


class ZhllamaModelFields(BaseModel):
    """The backend, template and sampling fields (upstream's defaults), and per-call overrides.

    A call may override ``temperature``, ``top_k``, ``top_p``, ``repetition_penalty``,
    ``max_new_tokens`` (or ``max_tokens``, which the constructor takes too), ``seed`` and ``greedy``;
    ``greedy`` (or temperature 0) decodes greedily. Stop sequences are the field's plus the call's.
    ``model_name`` is what replies report as their model; it defaults to the backend's (the model
    folder, the GGUF file or the server's model id).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    backend: Any = Field(exclude=True, description="a zhllama.backends.Backend")
    model_name: str | None = None
    template: str = DEFAULT_TEMPLATE
    temperature: float = UPSTREAM.temperature
    top_k: int = UPSTREAM.top_k
    top_p: float = UPSTREAM.top_p
    repetition_penalty: float = UPSTREAM.repetition_penalty
    max_new_tokens: int = Field(
        default=UPSTREAM.max_new_tokens, validation_alias=AliasChoices("max_new_tokens", "max_tokens")
    )
    greedy: bool = False
    seed: int | None = None
    stop: list[str] | None = None

    @property
    def resolved_model_name(self) -> str:
        """``model_name``, else the backend's model, else the backend's name."""
        return self.model_name or getattr(self.backend, "model_name", None) or self.backend.name

    def settings_snapshot(self) -> dict[str, Any]:
        """The fields that decide a reply besides the prompt: template, sampling, greedy, seed, stop."""
        return {
            "template": self.template,
            **{name: getattr(self, name) for name in SAMPLING_FIELDS},
            "greedy": self.greedy,
            "seed": self.seed,
            "stop": self.stop,
        }

    def generation_settings(
        self, overrides: Mapping[str, Any], stop: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """``Backend.complete`` keyword arguments: the fields, with a call's ``overrides`` applied."""
        values = {name: overrides.get(name, getattr(self, name)) for name in SAMPLING_FIELDS}
        if "max_tokens" in overrides:
            values["max_new_tokens"] = overrides["max_tokens"]
        return {
            "template": self.template,
            "sampling": replace(Sampling(), **values),
            "stop": [*(self.stop or []), *(stop or [])],
            "greedy": bool(overrides.get("greedy", self.greedy)),
            "seed": overrides.get("seed", self.seed),
        }

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
        cls,
        base_url: str,
        tokenizer: Any,
        *,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        backend_kwargs: dict | None = None,
        **fields: Any,
    ) -> Self:
        """A server (``OpenAICompatibleBackend(base_url, tokenizer, **backend_kwargs)``); ``api_key``,
        ``timeout`` and ``max_retries`` are the backend's, given here as ChatOpenAI takes them."""
        from zhllama.backends import BackendError, OpenAICompatibleBackend

        connection = {"api_key": api_key, "timeout": timeout, "max_retries": max_retries}
        connection = {name: value for name, value in connection.items() if value is not None}
        twice = sorted(connection.keys() & (backend_kwargs or {}).keys())
        if twice:
            raise BackendError(f"give {', '.join(twice)} once, not also in `backend_kwargs`")
        backend = OpenAICompatibleBackend(base_url, tokenizer, **connection, **(backend_kwargs or {}))
        return cls(backend=backend, **fields)
