"""What a client sends is taken as it is documented, or refused: strict request bodies (no
coercion), 415 for a body that is not JSON, bounded integers, metric labels from a closed set,
the Idempotency-Key's documented range, auditors who write nothing, and positions the ledger
has reached.

Tests taking ``stored`` run on SQLite (a fresh copy of the world) and on PostgreSQL (one world
for the module: they record only what they create themselves, and measure from the head they
find).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.common import MAX_POSITION
from api.tokens import issue_token
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    WorldCopy,
    api_fixture,
    ledger_position,
    pg_world_fixture,
    serve,
    services,
    stored_fixture,
    world_copy_fixture,
    world_fixture,
    world_template_fixture,
)
from tests.test_api_behaviour import problem


@pytest.fixture
def client(stored: WorldCopy) -> Iterator[TestClient]:
    with serve(stored.env) as found:
        yield found


def refused_recording_nothing(client: TestClient, method: str, path: str,
                              headers: dict[str, str], status: int, code: str,
                              **send: Any) -> dict[str, Any]:
    before = ledger_position(client)
    body = problem(client.request(method, path, headers=headers, **send), status, code)
    assert ledger_position(client) == before
    return body


# --- strict bodies ----------------------------------------------------------------------
RULE = "/communities/{community}/admission-rule"
COMMITMENTS = "/communities/{community}/commitments"
LAX_BODIES = [
    # (who, method, path, body): each a value of the wrong JSON type, or of the wrong form
    ("representative", "PUT", RULE, {"direct_invitations": "yes"}),
    ("representative", "PUT", RULE, {"direct_invitations": 1}),
    ("representative", "PUT", RULE, {"direct_invitations": "true"}),
    ("representative", "PUT", RULE, {"quorum": "3"}),
    ("representative", "PUT", RULE, {"quorum": 3.5}),
    ("representative", "PUT", RULE, {"quorum": True}),
    ("representative", "PUT", RULE, {"threshold": "0.6"}),
    ("representative", "PUT", RULE, {"deadline_days": "7"}),
    ("member", "POST", "/people", {"handle": "strict-bot", "display_name": "B", "is_bot": 1}),
    ("member", "POST", "/people", {"handle": "strict-bot", "display_name": "B",
                                   "is_bot": "true"}),
    ("member", "POST", "/people", {"handle": 12345, "display_name": "B"}),
    ("representative", "POST", COMMITMENTS, {"posts": ["{post}"], "text": "T",
                                             "due_on": "2026-10-31T10:00:00"}),
    ("representative", "POST", COMMITMENTS, {"posts": ["{post}"], "text": "T",
                                             "due_on": "2026-10-31T00:00:00Z"}),
    ("representative", "POST", COMMITMENTS, {"posts": ["{post}"], "text": "T",
                                             "due_on": 1793404800}),
    ("representative", "POST", COMMITMENTS, {"posts": ["{post}"], "text": "T",
                                             "due_on": "20261031"}),
    ("representative", "POST", COMMITMENTS, {"posts": ["{post_hex}"], "text": "T"}),
    ("representative", "POST", COMMITMENTS, {"posts": ["urn:uuid:{post}"], "text": "T"}),
    ("representative", "POST", COMMITMENTS, {"posts": [1], "text": "T"}),
    ("member", "POST", "/communities/{community}/threads",
     {"kind": "question", "title": 1, "body": "Well?"}),
]


def _fill(value: Any, world: World) -> Any:
    text = orjson.dumps(value).decode()
    for name, found in (("community", world.community), ("post", world.post),
                        ("post_hex", uuid.UUID(world.post).hex)):
        text = text.replace("{" + name + "}", found)
    return orjson.loads(text)


@pytest.mark.parametrize(("who", "method", "path", "body"), LAX_BODIES,
                         ids=[f"{m} {p} {orjson.dumps(b).decode()}" for _, m, p, b in LAX_BODIES])
def test_a_value_of_another_type_or_form_is_refused_not_coerced(
        client: TestClient, stored: WorldCopy, who: str, method: str, path: str,
        body: dict[str, Any]) -> None:
    w = stored.world
    found = refused_recording_nothing(client, method, _fill(path, w), w.headers(who), 422,
                                      "invalid-input", json=_fill(body, w))
    assert found["errors"] and all(e["location"][0] == "body" for e in found["errors"])


def test_values_of_the_documented_types_are_accepted(client: TestClient,
                                                      stored: WorldCopy) -> None:
    """The strict bodies still take what is documented: a date, ids, enum values, an
    integer where a number is asked for, and a number without a fractional part where an
    integer is (JSON Schema's integer)."""
    w = stored.world
    rep = w.headers("representative")
    made = client.post(f"/communities/{w.community}/commitments", headers=rep,
                       json={"posts": [w.post], "text": "Strict but fair.",
                             "due_on": "2026-10-31"})
    assert made.status_code == 201, made.text
    rule = client.put(f"/communities/{w.open_community}/admission-rule", headers=rep,
                      json={"quorum": 3.0, "threshold": 1, "direct_invitations": False})
    assert rule.status_code == 200, rule.text


# --- 415 --------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx",
                                          "application/json-seq", "text/json"])
def test_a_json_body_without_a_json_content_type_is_415(api: TestClient, world: World,
                                                        content_type: str | None) -> None:
    headers = dict(world.headers("member"))
    if content_type is not None:
        headers["Content-Type"] = content_type
    refused_recording_nothing(api, "POST", "/people", headers, 415, "unsupported-media-type",
                              content=orjson.dumps({"handle": "ct", "display_name": "C"}))


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8",
                                          "application/merge-patch+json"])
def test_json_and_json_suffixed_media_types_are_read(api: TestClient, world: World,
                                                     content_type: str) -> None:
    handle = "ct-" + re.sub(r"[^a-z]", "", content_type.lower())[:40]
    response = api.post("/people", headers={**world.headers("member"),
                                            "Content-Type": content_type},
                        content=orjson.dumps({"handle": handle, "display_name": "C"}))
    assert response.status_code == 201, response.text


# --- bounded integers -------------------------------------------------------------------
def _integer_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer a request may carry: parameters (query, header, path) and body
    properties, with where it is."""
    schemas = document["components"]["schemas"]

    def walk(where: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        if "$ref" in schema:
            yield from walk(where, schemas[schema["$ref"].rsplit("/", 1)[1]])
            return
        for alternative in schema.get("anyOf", []) + schema.get("allOf", []):
            yield from walk(where, alternative)
        if schema.get("type") in ("integer", "number"):
            yield where, schema
        for name, prop in schema.get("properties", {}).items():
            yield from walk(f"{where}.{name}", prop)
        if "items" in schema:
            yield from walk(f"{where}[]", schema["items"])

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                yield from walk(f"{method} {path} {parameter['name']}", parameter["schema"])
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                yield from walk(f"{method} {path} body", media["schema"])


def test_every_integer_a_request_carries_has_a_documented_range() -> None:
    document = create_app({}).openapi()
    found = list(_integer_schemas(document))
    assert len(found) > 20
    for where, schema in found:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        assert low is not None and high is not None, where
        assert high <= MAX_POSITION, where


@pytest.mark.parametrize("send", [{"params": {"since": 2**63}},
                                  {"params": {"since": MAX_POSITION + 1}},
                                  {"params": {"since": -1}},
                                  {"headers": {"Last-Event-ID": str(2**63)}},
                                  {"headers": {"Last-Event-ID": "99999999999999999999999"}}],
                         ids=["since=2^63", "since=max+1", "since=-1", "last-event-id=2^63",
                              "last-event-id=1e23"])
def test_an_event_stream_position_out_of_range_is_422(client: TestClient, stored: WorldCopy,
                                                      send: dict[str, Any]) -> None:
    w = stored.world
    headers = {**w.headers("member"), **send.get("headers", {})}
    problem(client.get(f"/communities/{w.community}/events", headers=headers,
                       params={**send.get("params", {}), "timeout": 0.2}), 422, "invalid-input")


def test_an_event_stream_from_the_largest_position_streams(client: TestClient,
                                                           stored: WorldCopy) -> None:
    w = stored.world
    for send in ({"params": {"since": MAX_POSITION}},
                 {"headers": {"Last-Event-ID": str(MAX_POSITION)}}):
        response = client.get(f"/communities/{w.community}/events",
                              headers={**w.headers("member"), **send.get("headers", {})},
                              params={**send.get("params", {}), "timeout": 0.3})
        assert response.status_code == 200
        assert "event: change" not in response.text


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": 2**64},
                                    {"min_position": -1}, {"min_position": 2**63}])
def test_paging_and_positions_out_of_range_are_422(api: TestClient, world: World,
                                                   params: dict[str, int]) -> None:
    problem(api.get(f"/communities/{world.community}/threads", headers=world.headers("member"),
                    params=params), 422, "invalid-input")


# --- metrics ----------------------------------------------------------------------------
def _series(client: TestClient) -> set[str]:
    text = client.get("/metrics").text
    return {line.split(" ")[0] for line in text.splitlines()
            if line.startswith("dialogue_ledger_http")}


def test_metric_labels_come_from_route_templates_and_known_methods(api: TestClient,
                                                                    world: World) -> None:
    """Made-up methods and paths, however many, add the few series of "other" and
    "unmatched"; real paths are counted under their route's template."""
    for n in range(3):
        api.request(f"BREW{n}", f"/made/up/{n}")
        api.request(f"BREW{n}", f"/threads/{uuid.uuid4()}")
        api.get(f"/made/up/{n}")
        api.get(f"/threads/{uuid.uuid4()}", headers=world.headers("member"))
    _series(api)  # /metrics counts itself after it answers
    known = _series(api)
    for n in range(3, 60):
        api.request(f"BREW{n}", f"/made/up/{n}")
        api.request(f"BREW{n}", f"/threads/{uuid.uuid4()}")
        api.get(f"/made/up/{n}")
        api.get(f"/threads/{uuid.uuid4()}", headers=world.headers("member"))
    after = _series(api)
    assert after == known
    labels = " ".join(after)
    assert "BREW" not in labels and "/made/up" not in labels
    assert 'method="other",route="unmatched"' in labels
    assert 'method="GET",route="/threads/{thread_id}"' in labels


# --- Idempotency-Key --------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 159, 160, 199, 200])
def test_an_idempotency_key_of_1_to_200_characters_is_kept(client: TestClient,
                                                           stored: WorldCopy,
                                                           length: int) -> None:
    w = stored.world
    mark = uuid.uuid4().hex
    key = (mark + "k" * length)[-length:] if length >= 32 else mark[:length]
    headers = {**w.headers("jonas"), "Idempotency-Key": key}
    body = {"kind": "question", "title": f"Key of {length}", "body": "Kept?"}
    path = f"/communities/{w.community}/threads"
    first = client.post(path, headers=headers, json=body)
    assert first.status_code == 201, first.text
    again = client.post(path, headers=headers, json=body)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_long_keys_that_differ_only_at_the_end_are_two_keys(client: TestClient,
                                                            stored: WorldCopy) -> None:
    w = stored.world
    stem = uuid.uuid4().hex * 6  # 192 characters
    path = f"/communities/{w.community}/threads"
    receipts = []
    for end in ("aaaaaaaa", "aaaaaaab"):
        response = client.post(path, headers={**w.headers("jonas"), "Idempotency-Key": stem + end},
                               json={"kind": "question", "title": "Two keys", "body": "Two?"})
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        receipts.append(response.json()["id"])
    assert receipts[0] != receipts[1]


@pytest.mark.parametrize("key", ["k" * 201, "k" * 5000, "tab\tinside", "del\x7f", "caf\xe9"],
                         ids=["201", "5000", "tab", "del", "latin-1"])
def test_an_idempotency_key_outside_its_range_is_422(api: TestClient, world: World,
                                                     key: str) -> None:
    found = refused_recording_nothing(
        api, "POST", f"/communities/{world.community}/threads",
        {**world.headers("member"), "Idempotency-Key": key.encode("latin-1")},  # type: ignore[dict-item]
        422, "invalid-input", json={"kind": "question", "title": "Too long", "body": "No"})
    assert found["errors"][0]["location"] == ["header", "Idempotency-Key"]


# --- auditors ---------------------------------------------------------------------------
def test_an_appointed_auditor_cannot_leave_with_any_token(client: TestClient,
                                                          stored: WorldCopy) -> None:
    """ines is the community's appointed auditor: with her auditor token the API refuses
    the write; with a member token of hers, the ledger does."""
    w = stored.world
    member_token = issue_token(services(client).ledger, "ines", "member", "strict tests")[0]
    for headers in (w.headers("auditor"), {"Authorization": f"Bearer {member_token}"}):
        refused_recording_nothing(client, "POST", f"/communities/{w.community}/leave",
                                  headers, 403, "auditors-cannot-write")


# --- positions beyond the head ----------------------------------------------------------
def test_a_position_beyond_the_head_is_422_for_at_as_for_min_position(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    head = ledger_position(client)
    reads = [("auditor", f"/audit/communities/{w.community}/roster", "at"),
             ("auditor", f"/audit/communities/{w.community}/moderation-log", "at"),
             ("auditor", f"/audit/threads/{w.thread}", "at"),
             ("auditor", f"/audit/threads/{w.thread}/history", "at"),
             ("member", f"/communities/{w.community}/reports/listening", "at"),
             ("member", f"/organisations/{w.organisation}/reports/listening", "at"),
             ("member", f"/communities/{w.community}", "min_position"),
             ("member", f"/communities/{w.community}/threads", "min_position")]
    for who, path, name in reads:
        beyond = problem(client.get(path, headers=w.headers(who), params={name: head + 1000}),
                         422, "invalid-input")
        assert beyond["field"] == name and beyond["head"] >= head, path
        reached = client.get(path, headers=w.headers(who), params={name: head})
        assert reached.status_code == 200, (path, reached.text[:300])
