"""Bounding a JSON schema to a reply's budget: narrower than the caller's, closed, and never longer
than the budget; schemas that cannot be bounded are refused with what to change."""

import json
import re

import jsonschema
import pytest
from pydantic import BaseModel, Field

from zhllama.backends.constrained_decoding import integer_range_rule
from zhllama.backends.json_schema import BYTES_PER_CHARACTER, SchemaError, bound_schema, inline_schema


class Address(BaseModel):
    city: str
    lines: list[str]


class Person(BaseModel):
    """A person."""

    name: str = Field(max_length=200)
    age: int
    nickname: str | None = None
    address: Address


def longest_document(schema: dict) -> str:
    """The longest document the bounded schema allows, built by hand for these test schemas."""

    def build(node):
        if "anyOf" in node:
            return max((build(branch) for branch in node["anyOf"]), key=lambda v: len(json.dumps(v)))
        kind = node["type"]
        if kind == "object":
            return {name: build(sub) for name, sub in node["properties"].items()}
        if kind == "array":
            return [build(node["items"]) for _ in range(node["maxItems"])]
        if kind == "string":
            return "\u4e00" * node["maxLength"]  # a grammar's string item: one character or one escape
        if kind == "integer":
            return node["minimum"]
        return None

    return json.dumps(build(schema), ensure_ascii=True, separators=(" , ", " : "))


@pytest.mark.parametrize("max_tokens", [128, 256, 512])
def test_the_longest_bounded_document_fits_the_budget_and_validates_against_the_original(max_tokens):
    original = Person.model_json_schema()
    bounded = bound_schema(original, max_tokens)
    document = longest_document(bounded)
    assert len(document.encode()) <= max_tokens - 1  # every token is at least one byte; one for EOS
    jsonschema.validate(json.loads(document), original)
    jsonschema.validate(json.loads(document), bounded)


def test_strings_get_the_longest_length_that_fits_and_callers_limits_are_kept_when_they_fit():
    joke = {
        "type": "object",
        "properties": {"setup": {"type": "string"}, "punchline": {"type": "string", "maxLength": 5}},
        "required": ["setup", "punchline"],
    }
    bounded = bound_schema(joke, 512)
    assert bounded["properties"]["punchline"]["maxLength"] == 5
    setup = bounded["properties"]["setup"]["maxLength"]
    assert setup > 50
    assert bound_schema(joke, 513)["properties"]["setup"]["maxLength"] >= setup
    assert bounded["additionalProperties"] is False
    assert joke["properties"]["setup"] == {"type": "string"}  # the caller's schema is left alone


def test_arrays_get_at_most_eight_items_and_integers_bounds():
    bounded = bound_schema({"type": "array", "items": {"type": "integer"}, "minItems": 1}, 512)
    assert bounded["maxItems"] == 8 and bounded["minItems"] == 1
    assert bounded["items"]["maximum"] == 10**15 - 1


def test_references_are_inlined():
    inlined = inline_schema(Person.model_json_schema())
    assert "$defs" not in inlined
    assert inlined["properties"]["address"]["properties"]["city"] == {"title": "City", "type": "string"}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object"}, "free-form object"),
        ({"type": "object", "properties": {"x": {}}}, "allows any JSON value"),
        (
            {
                "$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}},
                "$ref": "#/$defs/n",
            },
            "recursive",
        ),
        ({"type": "array"}, "without `items`"),
        ({"$ref": "#/$defs/missing"}, "does not define"),
        ({"type": "string", "minLength": 100}, "raise max_new_tokens"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "cannot enforce"),
        ({"type": "integer", "multipleOf": 5}, "cannot enforce"),
        ("not a schema", "must be a JSON schema"),
    ],
)
def test_schemas_that_cannot_be_bounded_are_refused_with_what_to_change(schema, message):
    with pytest.raises(SchemaError, match=message):
        bound_schema(schema, 64)


def test_the_cost_of_a_character_is_its_longest_json_spelling():
    assert len(json.dumps("\u4e00", ensure_ascii=True)) - 2 == BYTES_PER_CHARACTER


@pytest.mark.parametrize(
    ("low", "high"), [(0, 120), (-130, -7), (-5, 37), (7, 7), (99, 1000), (-(10**15) + 1, 10**15 - 1)]
)
def test_llama_cpps_integer_range_rule_matches_exactly_the_range(low, high):
    """llama-cpp-python's schema converter ignores minimum/maximum; this rule is what enforces them."""
    pattern = re.compile("(?:" + integer_range_rule(low, high).replace('"', "").replace(" ", "") + ")")
    edges = [*range(low - 300, low + 300), *range(-300, 300), *range(high - 300, high + 300)]
    assert [n for n in edges if bool(pattern.fullmatch(str(n))) != (low <= n <= high)] == []
    assert not pattern.fullmatch("-0") and not pattern.fullmatch("0" + str(max(high, 1)))
