"""Decoding constrained to a JSON schema, in each local runtime's own grammar engine.

- transformers: an xgrammar ``LogitsProcessor``. xgrammar is the structured-output engine vLLM uses by
  default, so a schema means the same grammar in-process and on a vLLM server; it computes token masks
  in C++ from a per-vocabulary cache, reads this family's SentencePiece byte-fallback vocabulary through
  ``TokenizerInfo.from_huggingface``, and installs without another torch. (outlines brings its own
  dependency tree and rewrites its transformers integration often; llguidance would do, but is not what
  the serving side runs.) transformers applies custom processors after the repetition penalty and before
  temperature/top-k/top-p, so sampling only ever sees tokens the grammar allows.
- llama.cpp: llama.cpp's own grammar sampler, the schema converted to GBNF by llama-cpp-python's port of
  ``json-schema-to-grammar`` (``LlamaGrammar.from_json_schema``); llama-cpp-python applies it after the
  repeat penalty and before top-k.

Compiling is cached: one xgrammar compiler per tokenizer (it preprocesses the 55,296-piece vocabulary
once), compiled grammars and GBNF grammars per schema.
"""

import json
import threading
from functools import lru_cache
from typing import Any

from zhllama.backends.protocol import BackendError

_compilers: dict[int, Any] = {}
_compilers_lock = threading.Lock()


def _schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False)


def _xgrammar_compiler(tokenizer: Any, vocab_size: int) -> Any:
    try:
        import xgrammar
    except ImportError as exc:
        raise BackendError(
            "structured output on transformers needs xgrammar: pip install 'zhllama[langchain]' (or xgrammar)"
        ) from exc

    key = id(tokenizer)
    with _compilers_lock:
        if key not in _compilers:
            info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
            _compilers[key] = (tokenizer, xgrammar.GrammarCompiler(info, max_threads=1))
        return _compilers[key][1]


def xgrammar_logits_processor(tokenizer: Any, vocab_size: int, schema: dict[str, Any]) -> Any:
    """A fresh transformers ``LogitsProcessor`` (one per ``generate`` call) masking tokens off ``schema``.

    Whitespace between JSON tokens is not allowed (``any_whitespace=False``): a model cannot pad forever.
    """
    from xgrammar.contrib.hf import LogitsProcessor

    compiler = _xgrammar_compiler(tokenizer, vocab_size)
    grammar = compiler.compile_json_schema(_schema_text(schema), any_whitespace=False, strict_mode=True)
    return LogitsProcessor(grammar)


@lru_cache(maxsize=64)
def _llama_grammar(schema_text: str | None) -> Any:
    from llama_cpp import LlamaGrammar, llama_grammar

    if schema_text is None:
        return LlamaGrammar.from_string(llama_grammar.JSON_GBNF, verbose=False)
    return LlamaGrammar.from_json_schema(schema_text, verbose=False)


def llama_cpp_grammar(schema: dict[str, Any] | None) -> Any:
    """llama.cpp's grammar (GBNF) for ``schema`` (any JSON for None), for ``create_completion(grammar=)``."""
    return _llama_grammar(None if schema is None else _schema_text(schema))
