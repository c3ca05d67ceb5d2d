"""The API against its own OpenAPI document, with schemathesis: requests generated from the
document (valid ones and invalid ones), sent with a member's and a moderator's token, to
random ids and to the world's real ones; every check schemathesis has (no server error,
status codes, content types, headers and bodies as documented, invalid data refused, valid
data accepted, ...) must pass.

Bounded: a few examples per operation, no deadline, on SQLite and on PostgreSQL. Text with
NUL characters is left to the hostile-text tests.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from api.app import create_app
from tests.api_world import WorldCopy, copy_template, postgres_world, world_template_fixture

__all__ = ["world_template_fixture"]  # a fixture this module uses

EXAMPLES = 10
#: Path parameters of the world's real resources, by name, so that requests also reach the
#: routes' rules and not only their 404.
REAL = {"community": "community", "organisation": "organisation", "thread_id": "thread",
        "post_id": "post", "decision_id": "decision", "nomination_id": "nomination",
        "commitment_id": "commitment"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[WorldCopy, Any]]:
    """A world of its own (SQLite copy or PostgreSQL schema), an app on it, and the app's
    document loaded by schemathesis (whose ASGI transport runs the app's lifespan)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("world_template")
        stored = WorldCopy(copy_template(template, tmp_path_factory.mktemp("fuzz")),
                           template.world)
        yield from _loaded(stored)
    else:
        with postgres_world() as stored:
            yield from _loaded(stored)


#: What the checks expect. A valid request may still be refused by the ledger's own rules (a
#: cursor from another list, a position beyond the head, a handle's characters, a rule the
#: community's state decides): 422 then, but never the schema's own refusal
#: (``schema_refusal_is_for_invalid_requests``). An invalid request may also be too large
#: (413).
CONFIG = SchemathesisConfig.from_dict({
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", 304, 401, 403, 404, 409, 422]},
        "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 406, 409,
                                                          413, 415, 422]}},
    "generation": {"mode": "all", "allow-x00": False, "deterministic": True}})


@schemathesis.check
def schema_refusal_is_for_invalid_requests(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request valid by the document is not refused as a malformed one: no 400, no 415,
    and no 422 listing validation ``errors`` (the ledger's own 422s name one ``field``)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code in (400, 415) or (
            response.status_code == 422 and "errors" in response.json()):
        raise AssertionError(f"a valid request was refused as invalid: {response.text[:500]}")
    return None


CHECKS = [schema_refusal_is_for_invalid_requests]


def _loaded(stored: WorldCopy) -> Iterator[tuple[WorldCopy, Any]]:
    app = create_app(stored.env)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    try:
        yield stored, schema
    finally:
        asgi.shutdown_lifespans()


def _can_be_invalid(operation: dict[str, Any]) -> bool:
    """Whether a request to the operation can be made invalid: a body, a query or header
    parameter, or a path parameter with a format (any text is a valid slug or handle to
    look up)."""
    return "requestBody" in operation or any(
        p["in"] != "path" or "format" in p["schema"] for p in operation.get("parameters", []))


#: Every operation of the document, by method and path template, with valid requests, and
#: with invalid ones where a request can be invalid.
OPERATIONS = sorted(
    (method.upper(), path, mode)
    for path, methods in create_app({}).openapi()["paths"].items()
    for method, operation in methods.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _can_be_invalid(operation))


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS,
                         ids=[f"{m} {p} {'valid' if g.is_positive else 'invalid'}"
                              for m, p, g in OPERATIONS])
def test_the_api_answers_as_its_document_says(fuzzed: tuple[WorldCopy, Any], method: str,
                                              path: str, mode: GenerationMode,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Every answer as documented, and no error logged meanwhile (an error after a stream
    has started answering is not a 5xx, but still a fault)."""
    stored, schema = fuzzed
    world = stored.world
    operation = schema.find_operation_by_path(method, path)
    assert operation is not None

    @given(operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: Any) -> None:
        if case.path == "/communities/{community}/events":
            _short_stream(case)
        for who in ("member", "moderator"):
            case.call_and_validate(headers=world.headers(who), additional_checks=CHECKS)
        if case.path_parameters:
            real = {name: getattr(world, REAL[name]) if name in REAL else value
                    for name, value in case.path_parameters.items()}
            if real != case.path_parameters:
                case.path_parameters = real
                for who in ("member", "moderator"):
                    case.call_and_validate(headers=world.headers(who), additional_checks=CHECKS)

    with caplog.at_level(logging.ERROR):
        answers_as_documented()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def _short_stream(case: Any) -> None:
    """An event stream ends after its ``timeout``: a short one, unless the case is about
    an invalid one."""
    query = dict(case.query or {})
    timeout = query.get("timeout")
    valid = isinstance(timeout, int | float) and not isinstance(timeout, bool) and \
        math.isfinite(timeout) and 0 < timeout <= 86_400
    if timeout is None or valid:
        query["timeout"] = 0.2
        case.query = query
