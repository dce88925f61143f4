"""Schema-constrained decoding on every backend: the tiny model's replies (sampled at temperature 1,
so each seed writes something else) always parse and validate, and always close within the budget."""

import json
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from zhllama.backends import BackendError, OpenAICompatibleBackend
from zhllama.backends.json_schema import SchemaError
from zhllama.core.sampling import Sampling

ASK = [{"role": "user", "content": "介绍一位三国人物，用 JSON 回答。"}]


class Person(BaseModel):
    name: str = Field(max_length=4)
    age: int = Field(ge=0, le=120)


class Character(BaseModel):
    """Enums, optional fields, arrays and the caller's own bounds, in one schema."""

    name: str = Field(max_length=6, description="姓名")
    age: int = Field(ge=0, le=120)
    kingdom: Literal["蜀", "魏", "吴"]
    home: str | None = Field(default=None, max_length=6)
    friends: list[Annotated[str, Field(max_length=4)]] = Field(max_length=2)


def sampled(runs: int, backend, model: type[BaseModel], max_new_tokens: int) -> list[str]:
    """``runs`` replies constrained to ``model``'s schema, each checked to parse, validate and close."""
    schema, replies = model.model_json_schema(), []
    for seed in range(runs):
        completion = backend.complete(
            ASK,
            sampling=Sampling(temperature=1.0, max_new_tokens=max_new_tokens),
            seed=seed,
            json_schema=schema,
        )
        jsonschema.validate(json.loads(completion.text), schema)
        model.model_validate_json(completion.text)
        assert completion.finish_reason == "stop"  # the document closed and the model stopped in budget
        replies.append(completion.text)
    return replies


def test_fifty_of_fifty_schema_constrained_replies_parse_and_validate(transformers_backend):
    replies = sampled(50, transformers_backend, Person, max_new_tokens=64)
    assert len(set(replies)) > 10  # fifty samples, not one reply fifty times


def test_every_backend_constrains_enums_optionals_and_arrays(backend):
    """llama.cpp's grammar sampler checks all 55,296 pieces each step (seconds per reply here): a few runs;
    ``python benchmarks/structured_output.py --runs 50`` runs fifty on each backend."""
    sampled(3, backend, Character, max_new_tokens=128)


def test_a_schema_that_cannot_fit_the_budget_is_refused_before_generating(transformers_backend):
    with pytest.raises(SchemaError, match="raise max_new_tokens"):
        transformers_backend.complete(
            ASK, sampling=Sampling(max_new_tokens=16), json_schema=Character.model_json_schema()
        )


def test_the_server_gets_the_schema_in_the_shape_it_takes(llama_cpp_server, tokenizer_dir):
    backend = OpenAICompatibleBackend(
        llama_cpp_server.base_url, tokenizer_dir, prompt_format="chat", context_window=256
    )
    assert backend._response_format({"type": "string"}) == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": {"type": "string"}, "strict": True},
    }
    with pytest.raises(BackendError, match="json_object"):  # llama-cpp-python's server says which it takes
        backend.complete(ASK, sampling=Sampling(max_new_tokens=64), json_schema=Person.model_json_schema())
    with pytest.raises(BackendError, match="needs prompt_format='chat'"):
        OpenAICompatibleBackend(llama_cpp_server.base_url, tokenizer_dir, schema_style="llama-cpp-python")
