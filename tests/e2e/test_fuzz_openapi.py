"""Schema-driven fuzzing: schemathesis generates requests for every operation of `/openapi.json`
(valid ones, and invalid ones from the schema's edges) and sends them to a real server.

Every answer must be: no 5xx; a status the document lists for that operation; a content type it
lists; and a body that fits the documented schema (errors included: `{"detail": "..."}`).
Examples per operation are bounded and derandomized, so the run is quick and repeatable.
(Driven by hand rather than by schemathesis' pytest plugin, which the server fixture's scope and
pytest 9 do not suit: one test per backend, failures collected per operation.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.server import RunningServer

EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_answers_as_documented(server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # the whole API is documented
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def answers_as_documented(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            answers_as_documented()
        except Exception as exc:
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())
