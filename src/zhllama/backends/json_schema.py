"""A reply constrained to a JSON schema: the schema checked, inlined and bounded to the reply's budget.

Constrained decoding (xgrammar on transformers, llama.cpp's GBNF, a server's structured outputs) keeps
every sampled token a step towards a document the schema allows, so the reply is valid JSON by
construction *if it ends*. A string field or an array has no end in its grammar: a model that never
writes the closing quote runs out of tokens mid-string. ``bound_schema`` therefore gives every string
a ``maxLength`` and every array a ``maxItems`` (the caller's own, lowered when needed) and closes every
object (``additionalProperties: false``) so that the *longest* document the bounded schema allows fits
the token budget. The bounded schema only narrows the caller's: what validates against it validates
against theirs.

The arithmetic is in bytes, an upper bound on tokens: every token of a SentencePiece byte-fallback
vocabulary (this family's, and what GGUF exports of it hold) decodes to at least one byte; an item of
a string's grammar (one character, or one escape) is at most 6 bytes (``\\uXXXX``), a number at most
60, and the whitespace the grammars allow is counted per element. String lengths are then the largest
that fit; arrays get at most 8 items (fewer when strings would become shorter than 8 characters). A
schema whose smallest document cannot fit, a recursive one, a free-form object (no ``properties``) or
one using a keyword no engine enforces (``UNENFORCED_KEYWORDS``) is a ``SchemaError`` that says what
to change.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from zhllama.errors import ZhllamaError

BYTES_PER_CHARACTER = 6
"""The most bytes one item of a JSON string's grammar takes: a character, or an escape ``\\uXXXX``."""
NUMBER_BYTES = 60
INTEGER_BYTES = 17
"""The most bytes an integer takes: 16 characters (the bounds below, or llama.cpp's own limit) and a space."""
INTEGER_BOUND = 10**15
"""Integers without bounds get ±(10**15 - 1): beyond 2**53 JSON numbers lose precision anyway."""
UNKNOWN_STRING_CHARACTERS = 64
"""What a string with a ``pattern`` or ``format`` but no ``maxLength`` is counted as (its grammar is the
engine's, not ours to bound)."""
DEFAULT_MAX_ITEMS = 8
MIN_STRING_CHARACTERS = 8
_SEPARATOR_BYTES = 5  # ", " and ": " plus the optional spaces llama.cpp's grammar allows
_SCHEMA_KEYS_DROPPED = ("$defs", "definitions", "$schema", "$id")
UNENFORCED_KEYWORDS = (
    "multipleOf",
    "uniqueItems",
    "contains",
    "not",
    "if",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "minProperties",
    "maxProperties",
)
"""Keywords no grammar engine here enforces: a schema using one could yield invalid replies: refused."""


class SchemaError(ZhllamaError):
    """A JSON schema that decoding cannot be constrained to within the reply's budget."""


def _resolver(root: Mapping[str, Any]) -> Callable[[str], Mapping[str, Any]]:
    definitions = {**root.get("definitions", {}), **root.get("$defs", {})}

    def resolve(ref: str) -> Mapping[str, Any]:
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in definitions:
                return definitions[ref[len(prefix) :]]
        raise SchemaError(f"`json_schema` refers to {ref!r}, which it does not define under $defs")

    return resolve


def inline_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``$ref`` replaced by its definition; a recursive schema is an error."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"`json_schema` must be a JSON schema (a dict), got {type(schema).__name__}")
    resolve = _resolver(schema)

    def visit(node: Any, refs: tuple[str, ...]) -> Any:
        """A schema node inlined; ``enum``/``const`` values are data and ``properties`` maps names."""
        if isinstance(node, list):
            return [visit(item, refs) for item in node]
        if not isinstance(node, Mapping):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if ref in refs:
                raise SchemaError(
                    f"`json_schema` is recursive ({ref} contains itself): its documents have no length "
                    "bound, so decoding cannot be made to finish; unroll the recursion to a fixed depth"
                )
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**visit(resolve(ref), (*refs, ref)), **visit(rest, refs)}
        inlined: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SCHEMA_KEYS_DROPPED:
                continue
            if key in ("enum", "const", "default", "examples"):
                inlined[key] = value
            elif key == "properties" and isinstance(value, Mapping):
                inlined[key] = {name: visit(sub, refs) for name, sub in value.items()}
            else:
                inlined[key] = visit(value, refs)
        return inlined

    return visit(schema, ())


def _literal_bytes(value: Any) -> int:
    return max(len(json.dumps(value, ensure_ascii=ascii).encode()) for ascii in (True, False)) + 1


def _types(node: Mapping[str, Any]) -> list[str | None]:
    kind = node.get("type")
    return list(kind) if isinstance(kind, list) else [kind]


class _Bounder:
    """Bounds one inlined schema for a given longest string ``characters`` and array ``items``."""

    def __init__(self, characters: int, items: int) -> None:
        self.characters = characters
        self.items = items

    def bound(self, node: Any, path: str = "$") -> tuple[Any, int]:
        """``(bounded node, most bytes a document of it takes)``."""
        if node is True or node == {}:
            raise SchemaError(
                f"`json_schema` at {path} allows any JSON value: give it a type (free-form values have no "
                "length bound)"
            )
        if not isinstance(node, Mapping):
            raise SchemaError(f"`json_schema` at {path} is {node!r}, not a schema object")
        unenforced = [key for key in UNENFORCED_KEYWORDS if key in node]
        if unenforced:
            raise SchemaError(
                f"`json_schema` at {path} uses {unenforced[0]!r}, which constrained decoding cannot enforce: "
                "drop it (for a set, use a list) and check that rule after parsing"
            )
        if "const" in node:
            return dict(node), _literal_bytes(node["const"])
        if "enum" in node:
            if not node["enum"]:
                raise SchemaError(f"`json_schema` at {path} has an empty enum: no document can match it")
            return dict(node), max(map(_literal_bytes, node["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in node:
                rest = {k: v for k, v in node.items() if k != key}
                branches = [self.bound({**rest, **branch}, f"{path}/{key}") for branch in node[key]]
                if not branches:
                    raise SchemaError(f"`json_schema` at {path} has an empty {key}")
                return {key: [b for b, _ in branches]}, max(size for _, size in branches)
        if "allOf" in node:
            if len(node["allOf"]) != 1:
                raise SchemaError(
                    f"`json_schema` at {path} combines schemas with allOf, which zhllama cannot bound: merge "
                    "them into one schema"
                )
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.bound({**rest, **node["allOf"][0]}, path)
        kinds = _types(node)
        if len(kinds) > 1:
            return self.bound({"anyOf": [{**node, "type": kind} for kind in kinds]}, path)
        kind = kinds[0]
        if kind is None:
            if "properties" in node:
                kind = "object"
            elif "items" in node or "prefixItems" in node:
                kind = "array"
            else:
                raise SchemaError(f"`json_schema` at {path} has no type: say which (string, object, ...)")
        bounder = getattr(self, f"_{kind}", None)
        if bounder is None:
            raise SchemaError(f"`json_schema` at {path} has unknown type {kind!r}")
        return bounder(dict(node), path)

    def _string(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        if "pattern" in node or "format" in node:
            characters = node.get("maxLength", UNKNOWN_STRING_CHARACTERS)
        else:
            minimum = int(node.get("minLength", 0))
            characters = max(minimum, min(int(node.get("maxLength", self.characters)), self.characters))
            node["maxLength"] = characters
        return node, 3 + BYTES_PER_CHARACTER * characters

    def _integer(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        node.setdefault("minimum", -(INTEGER_BOUND - 1))
        node.setdefault("maximum", INTEGER_BOUND - 1)
        digits = max(len(str(int(node["minimum"]))), len(str(int(node["maximum"]))))
        return node, min(INTEGER_BYTES, digits + 1)

    def _number(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        return node, NUMBER_BYTES

    def _boolean(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        return node, 6

    def _null(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        return node, 5

    def _array(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        if "prefixItems" in node:
            bounded = [
                self.bound(item, f"{path}/prefixItems/{i}") for i, item in enumerate(node["prefixItems"])
            ]
            node["prefixItems"] = [b for b, _ in bounded]
            node["items"] = False
            return node, 3 + sum(size + _SEPARATOR_BYTES for _, size in bounded)
        if "items" not in node:
            raise SchemaError(f"`json_schema` at {path} is an array without `items`: say what it holds")
        item, size = self.bound(node["items"], f"{path}/items")
        minimum = int(node.get("minItems", 0))
        count = max(minimum, min(int(node.get("maxItems", self.items)), self.items))
        node.update(items=item, maxItems=count)
        return node, 3 + count * (size + _SEPARATOR_BYTES)

    def _object(self, node: dict[str, Any], path: str) -> tuple[dict[str, Any], int]:
        if "properties" not in node:
            raise SchemaError(
                f"`json_schema` at {path} is a free-form object (no `properties`): its keys and size have no "
                "bound; declare the properties it holds"
            )
        properties, size = {}, 4
        for name, value in node["properties"].items():
            properties[name], value_size = self.bound(value, f"{path}/{name}")
            size += _literal_bytes(name) + _SEPARATOR_BYTES + value_size
        node.update(properties=properties, additionalProperties=False)
        return node, size


def bound_schema(schema: Mapping[str, Any], max_tokens: int) -> dict[str, Any]:
    """``schema`` inlined and bounded so that its longest document takes at most ``max_tokens`` tokens.

    Strings get the longest ``maxLength`` that fits (at most their own), arrays at most
    ``DEFAULT_MAX_ITEMS`` items (fewer when that leaves strings under ``MIN_STRING_CHARACTERS``).
    Raises ``SchemaError`` when even the shortest bounded document cannot fit.
    """
    inlined = inline_schema(schema)
    budget = max_tokens - 1  # the end-of-sequence token
    best = None
    for items in sorted({DEFAULT_MAX_ITEMS, 4, 2, 1}, reverse=True):
        low, high = 0, max(0, budget // BYTES_PER_CHARACTER)
        if _Bounder(low, items).bound(inlined)[1] > budget:
            continue
        while low < high:  # the largest string length whose longest document fits
            middle = (low + high + 1) // 2
            if _Bounder(middle, items).bound(inlined)[1] <= budget:
                low = middle
            else:
                high = middle - 1
        best = _Bounder(low, items).bound(inlined)[0]
        if low >= MIN_STRING_CHARACTERS:
            break
    if best is None:
        smallest = _Bounder(0, 1).bound(inlined)[1] + 1
        raise SchemaError(
            f"even with its strings and arrays at their shortest, a reply `json_schema` allows may take "
            f"{smallest} tokens, but the reply may have {max_tokens}: raise max_new_tokens (or shorten the "
            "prompt), or lower the schema's minLength/minItems"
        )
    return best
