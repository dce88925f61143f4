"""Fuzzing every route of the server's own OpenAPI schema (schemathesis, valid and invalid inputs): no 500s.

Half of the generated generation requests name the served model, with a reply of at most 4 tokens
(the tiny model's default reply would take seconds per case), so that the
fuzzer gets past the model check into the template, the context check and the queue. (The cases
are drawn from schemathesis' strategies inside one test per mode: its pytest plugin's lazy fixture
loader does not run under pytest 9.)
"""

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from server_process import TINY

EXAMPLES_PER_ROUTE = 15


def _aim_at_the_model(case) -> None:
    body = case.body
    if not isinstance(body, dict) or "model" not in body:
        return
    if int(hashlib.sha256(repr(body).encode()).hexdigest(), 16) % 2:
        body["model"] = TINY
        for field in ("max_tokens", "max_completion_tokens"):
            if body.get(field) is None or isinstance(body[field], int):
                body[field] = min(body.get(field) or 4, 4)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_input_makes_the_server_fail(served_with_examples, mode):
    headers = {"Authorization": f"Bearer {served_with_examples.api_key}"}
    schema = schemathesis.openapi.from_url(served_with_examples.url + "/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    tried: dict[str, int] = {}
    for operation in operations:
        label = operation.label

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            _aim_at_the_model(case)
            case.call_and_validate(
                base_url=served_with_examples.url, headers=headers, checks=[not_a_server_error], timeout=60
            )
            tried[label] = tried.get(label, 0) + 1  # noqa: B023 (call runs inside this iteration)

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid in a route whose only input is any string or none
            assert mode == GenerationMode.NEGATIVE and not operation.body, label
            tried[label] = 0
    assert len(tried) == len(operations)
    bodies = [op.label for op in operations if op.body]
    assert all(tried[label] > 0 for label in bodies) and len(bodies) >= 5, tried
