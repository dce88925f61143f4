"""The Alpaca-2 templates as llama-cpp-python chat formats: ``chinese-alpaca-2`` and ``-long``.

llama-cpp-python looks chat formats up by name in a process-wide registry
(``llama_chat_format.LlamaChatCompletionHandlerRegistry``) when a ``Llama`` is built with
``chat_format=NAME`` or its server starts with ``--chat_format NAME``; ``register_chat_formats()``
adds ours to it. Registration is per process: the server must run in a process that called it,
which is what ``python -m zhllama.backends.llama_cpp_server`` does.

We register a full chat-completion *handler*, not a ``register_chat_format`` text formatter: a
formatter's prompt text is tokenized with ``special=True``, so ``</s>`` typed by a user would end
the turn. The handler builds ids segment by segment like ``encode_messages`` and calls
``create_completion(prompt=ids)``. A ``response_format`` ``{"type": "json_object", "schema": ...}``
or a GBNF ``grammar`` constrains decoding as llama-cpp-python's own handlers do.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from zhllama.backends.protocol import BackendError

CHAT_FORMATS = {"chinese-alpaca-2": "alpaca-2", "chinese-alpaca-2-long": "alpaca-2-long"}


def chat_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """OpenAI chat messages as zhllama messages: text parts joined, roles kept."""
    converted = []
    for message in messages:
        content = message.get("content") or ""
        if not isinstance(content, str):
            content = "".join(part.get("text", "") for part in content if part.get("type") == "text")
        converted.append({"role": str(message.get("role")), "content": content})
    return converted


def chat_handler(template_name: str) -> Any:
    """A llama-cpp-python ``LlamaChatCompletionHandler`` for a zhllama template."""
    from llama_cpp import llama_chat_format

    from zhllama.backends.base import encode_prompt
    from zhllama.backends.constrained_decoding import llama_cpp_grammar
    from zhllama.backends.llama_cpp_backend import LlamaCppTokenizer

    def handler(
        *,
        llama: Any,
        messages: Sequence[Mapping[str, Any]],
        temperature: float = 0.2,
        top_p: float = 0.9,
        top_k: int = 40,
        min_p: float = 0.0,
        typical_p: float = 1.0,
        stream: bool = False,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        repeat_penalty: float = 1.1,
        logit_bias: dict[str, float] | None = None,
        response_format: Mapping[str, Any] | None = None,
        grammar: Any = None,
        **_: Any,
    ) -> Any:
        ids = encode_prompt(LlamaCppTokenizer(llama), chat_messages(messages), template_name)
        if response_format is not None and response_format.get("type") == "json_object":
            grammar = llama_cpp_grammar(response_format.get("schema"))
        completion = llama.create_completion(
            prompt=ids,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            typical_p=typical_p,
            stream=stream,
            stop=stop or [],
            seed=seed,
            max_tokens=max_tokens,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            repeat_penalty=repeat_penalty,
            logit_bias=logit_bias,
            grammar=grammar,
        )
        return llama_chat_format._convert_completion_to_chat(completion, stream=stream)

    return handler


def register_chat_formats() -> list[str]:
    """Register (or re-register) the chat formats in this process; return their names."""
    try:
        from llama_cpp import llama_chat_format
    except ImportError as exc:
        raise BackendError("llama-cpp-python is not installed: pip install 'zhllama[llamacpp]'") from exc
    registry = llama_chat_format.LlamaChatCompletionHandlerRegistry()
    for name, template_name in CHAT_FORMATS.items():
        registry.register_chat_completion_handler(name, chat_handler(template_name), overwrite=True)
    return list(CHAT_FORMATS)
