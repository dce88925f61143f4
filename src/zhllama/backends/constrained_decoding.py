"""Decoding constrained to a JSON schema, in each local runtime's own grammar engine.

- transformers: an xgrammar ``LogitsProcessor``. xgrammar is the structured-output engine vLLM uses by
  default, so a schema means the same grammar in-process and on a vLLM server; it computes token masks
  in C++ from a per-vocabulary cache, reads this family's SentencePiece byte-fallback vocabulary through
  ``TokenizerInfo.from_huggingface``, and installs without another torch. (outlines brings its own
  dependency tree and rewrites its transformers integration often; llguidance would do, but is not what
  the serving side runs.) transformers applies custom processors after the repetition penalty and before
  temperature/top-k/top-p, so sampling only ever sees tokens the grammar allows.
- llama.cpp: llama.cpp's own grammar sampler, the schema converted to GBNF by llama-cpp-python's port of
  ``json-schema-to-grammar``; llama-cpp-python applies it after the repeat penalty and before top-k. That
  port ignores ``minimum``/``maximum``, so integer ranges get their own rule here (``integer_range_rule``)
  and a bounded ``number`` is refused (a grammar for decimal ranges is not worth its size).

Compiling is cached: one xgrammar compiler per tokenizer (it preprocesses the 55,296-piece vocabulary
once), compiled grammars and GBNF grammars per schema.
"""

import json
import math
import threading
from functools import lru_cache
from typing import Any

from zhllama.backends.json_schema import SchemaError
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


def _digit_runs(low: str, high: str) -> list[str]:
    """GBNF sequences matching the decimal strings from ``low`` to ``high`` (same length, ``low <= high``)."""
    if low == high:
        return [" ".join(f'"{digit}"' for digit in low)]
    rest = len(low) - 1
    if low[1:] == "0" * rest and high[1:] == "9" * rest:  # a whole block: one run
        return [f"[{low[0]}-{high[0]}]" + " [0-9]" * rest]
    if low[0] == high[0]:
        return [f'"{low[0]}" {run}' for run in _digit_runs(low[1:], high[1:])]
    runs = [f'"{low[0]}" {run}' for run in _digit_runs(low[1:], "9" * rest)]
    if int(high[0]) - int(low[0]) > 1:
        runs.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}]" + " [0-9]" * rest)
    runs += [f'"{high[0]}" {run}' for run in _digit_runs("0" * rest, high[1:])]
    return runs


def _natural_runs(low: int, high: int) -> list[str]:
    """GBNF sequences for the integers ``low..high`` (``0 <= low <= high``), no leading zeros."""
    runs = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        stop = min(high, 10**digits - 1)
        if start <= stop:
            runs += _digit_runs(str(start), str(stop))
    return runs


def integer_range_rule(low: int, high: int) -> str:
    """A GBNF alternation matching exactly the integers ``low..high`` as JSON writes them."""
    runs = []
    if low < 0:
        runs += [f'"-" {run}' for run in _natural_runs(max(1, -high), -low)]
    if high >= 0:
        runs += _natural_runs(max(0, low), high)
    return " | ".join(f"({run})" for run in runs)


def _integer_bounds(schema: dict[str, Any]) -> tuple[int, int] | None:
    if (
        "minimum" not in schema
        and "maximum" not in schema
        and not any(key in schema for key in ("exclusiveMinimum", "exclusiveMaximum"))
    ):
        return None
    low = math.ceil(schema.get("minimum", -(10**16) + 1))
    high = math.floor(schema.get("maximum", 10**16 - 1))
    if "exclusiveMinimum" in schema:
        low = max(low, math.floor(schema["exclusiveMinimum"]) + 1)
    if "exclusiveMaximum" in schema:
        high = min(high, math.ceil(schema["exclusiveMaximum"]) - 1)
    if low > high:
        raise SchemaError(f"`json_schema` allows no integer between {low} and {high}")
    return low, high


@lru_cache(maxsize=64)
def _llama_grammar(schema_text: str | None) -> Any:
    from llama_cpp import LlamaGrammar, llama_grammar

    if schema_text is None:
        return LlamaGrammar.from_string(llama_grammar.JSON_GBNF, verbose=False)

    class RangeAwareConverter(llama_grammar.SchemaConverter):
        """llama-cpp-python's converter, with the integer ranges and the refusal it lacks."""

        def visit(self, schema: Any, name: str) -> str:
            if isinstance(schema, dict) and schema.get("type") == "integer":
                bounds = _integer_bounds(schema)
                if bounds is not None:
                    rule = f"{name}-" if name in llama_grammar.RESERVED_NAMES else name or "root"
                    return self._add_rule(rule, f"({integer_range_rule(*bounds)}) space")
            bounds_keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            if (
                isinstance(schema, dict)
                and schema.get("type") == "number"
                and any(k in schema for k in bounds_keys)
            ):
                raise SchemaError(
                    f"`json_schema`: llama.cpp's grammar cannot bound a `number` ({name or 'the reply'}): "
                    "drop its minimum/maximum, use an integer, or use the transformers backend"
                )
            return super().visit(schema, name)

    converter = RangeAwareConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    converter.visit(converter.resolve_refs(json.loads(schema_text), "schema"), "")
    return LlamaGrammar.from_string(converter.format_grammar(), verbose=False)


def llama_cpp_grammar(schema: dict[str, Any] | None) -> Any:
    """llama.cpp's grammar (GBNF) for ``schema`` (any JSON for None), for ``create_completion(grammar=)``."""
    return _llama_grammar(None if schema is None else _schema_text(schema))
