"""Hostile text through HTTP, on SQLite and PostgreSQL: every text field of every write route
(the table below; a test checks it against the OpenAPI document, so a new field cannot be
forgotten) with NUL, every other C0 control but tab and newline, C1 controls, every bidi
embedding, override and isolate, zero-width characters, look-alikes of an existing handle and
a 1 MB string. Each answer is a 4xx problem; nothing is recorded; the views still advance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    WorldCopy,
    ledger_position,
    pg_world_fixture,
    serve,
    stored_fixture,
    world_copy_fixture,
    world_template_fixture,
)

PROBLEM = "application/problem+json"

#: What a field holds: recorded free text, a name (PRECIS Nickname), a handle (PRECIS
#: Username), a slug, or a reference to something that exists (an id, handle or slug).
TEXT, NAME, HANDLE, SLUG, REF = "text", "name", "handle", "slug", "ref"


@dataclass(frozen=True)
class Field:
    method: str
    path: str  # the route's template, as in the OpenAPI document
    field: str
    kind: str
    token: str
    body: dict[str, Any]  # a request that would be accepted, but for this field

    def url(self, world: World) -> str:
        return self.path.format(
            community=world.community, organisation=world.organisation, post_id=world.post,
            nomination_id=world.nomination, commitment_id=world.commitment,
            decision_id=world.decision)


def fields(world: World) -> list[Field]:
    """Every text field of every write route, with a request that reaches the rules."""
    hide = {"action": "hide-post", "reason_code": "spam", "statement": "Spam.",
            "posts": [world.jonas_post]}
    suspend = {"action": "suspend-member", "reason_code": "spam", "statement": "Spam.",
               "member": "jonas"}
    vote = {"choice": "admit", "reason": "A useful voice."}
    community = {"organisation": "northwind", "name": "Hostile", "slug": "hostile",
                 "access": "open"}
    return [
        Field("POST", "/people", "handle", HANDLE, "member",
              {"handle": "newcomer", "display_name": "New Comer"}),
        Field("POST", "/people", "display_name", NAME, "member",
              {"handle": "newcomer", "display_name": "New Comer"}),
        Field("POST", "/organisations", "name", NAME, "representative",
              {"name": "Eastwind", "slug": "eastwind"}),
        Field("POST", "/organisations", "slug", SLUG, "representative",
              {"name": "Eastwind", "slug": "eastwind"}),
        Field("POST", "/organisations/{organisation}/representatives", "person", REF,
              "representative", {"person": "zara"}),
        Field("POST", "/communities", "organisation", REF, "representative", community),
        Field("POST", "/communities", "name", NAME, "representative", community),
        Field("POST", "/communities", "slug", SLUG, "representative", community),
        Field("POST", "/communities/{community}/roles", "person", REF, "representative",
              {"person": "jonas", "role": "moderator"}),
        Field("POST", "/communities/{community}/roles/revocations", "person", REF,
              "representative", {"person": "bea", "role": "moderator"}),
        Field("POST", "/communities/{community}/invitations", "person", REF, "representative",
              {"person": "zara"}),
        Field("POST", "/communities/{community}/nominations", "nominee", REF, "member",
              {"nominee": "zara", "statement": "Zara runs the food bank."}),
        Field("POST", "/communities/{community}/nominations", "statement", TEXT, "member",
              {"nominee": "zara", "statement": "Zara runs the food bank."}),
        Field("POST", "/nominations/{nomination_id}/votes", "reason", TEXT, "member", vote),
        Field("PUT", "/nominations/{nomination_id}/votes/mine", "reason", TEXT, "member",
              vote),
        Field("POST", "/communities/{community}/threads", "title", TEXT, "member",
              {"kind": "question", "title": "Outages", "body": "Again?"}),
        Field("POST", "/communities/{community}/threads", "body", TEXT, "member",
              {"kind": "question", "title": "Outages", "body": "Again?"}),
        Field("POST", "/posts/{post_id}/replies", "body", TEXT, "member", {"body": "Same."}),
        Field("POST", "/posts/{post_id}/edits", "body", TEXT, "member", {"body": "Edited."}),
        Field("POST", "/communities/{community}/commitments", "text", TEXT, "representative",
              {"posts": [world.post], "text": "We will publish the dates."}),
        Field("POST", "/commitments/{commitment_id}/progress", "text", TEXT,
              "representative", {"text": "Half done."}),
        Field("POST", "/commitments/{commitment_id}/fulfilment", "text", TEXT,
              "representative", {"text": "Done."}),
        Field("POST", "/commitments/{commitment_id}/abandonment", "text", TEXT,
              "representative", {"text": "Dropped."}),
        Field("POST", "/communities/{community}/moderation-decisions", "statement", TEXT,
              "moderator", hide),
        Field("POST", "/communities/{community}/moderation-decisions", "member", REF,
              "moderator", suspend),
        Field("POST", "/moderation-decisions/{decision_id}/notice", "text", TEXT, "bea",
              {"text": "Your post was removed."}),
        Field("POST", "/moderation-decisions/{decision_id}/appeal", "text", TEXT, "member",
              {"text": "It was on topic."}),
        Field("POST", "/moderation-decisions/{decision_id}/appeal/decision", "reasons", TEXT,
              "moderator", {"outcome": "upheld", "reasons": "It was off topic."}),
    ]


C0 = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
C1 = ["\x7f", "\x80", "\x85", "\x9b"]
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
ZERO_WIDTH = ["\u200b", "\ufeff"]
#: Unpaired surrogates: JSON can carry them as escapes (sent so, below).
SURROGATES = ["\ud800", "\udfff"]
#: Refused wherever they stand in any text field (CR only outside free text, where CRLF and
#: a lone CR are taken as a line end).
REFUSED = [*C0, *C1, *BIDI, *ZERO_WIDTH, *SURROGATES]
#: Look-alikes of the world's handle "ruth": one Cyrillic letter (mixed scripts), fullwidth
#: letters (the same handle), a trailing zero-width space (invisible), Armenian and Greek
#: letters (mixed scripts); and of "pace" (registered below) in Cyrillic letters only.
LOOK_ALIKES = ["r\u0443th", "\uff52\uff55\uff54\uff48", "ruth\u200b", "r\u057dth", "r\u03c5th",
               "\u0440\u0430\u0441\u0435"]
MEGABYTE = "x" * 1_000_000


def hostile_values(field: Field, base: str) -> Iterator[tuple[str, str]]:
    """(label, value) pairs to send in ``field``, built around an acceptable ``base``."""
    middle = max(1, len(base) // 2)
    for char in [*REFUSED, *([] if field.kind == TEXT else ["\r"])]:
        yield f"U+{ord(char):04X}", base[:middle] + char + base[middle:]
    if field.kind == HANDLE:
        for look_alike in LOOK_ALIKES:
            yield f"look-alike {look_alike!a}", look_alike
    yield "1 MB", MEGABYTE


def problem_of(response: Any, where: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM), where
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def client(stored: WorldCopy) -> Iterator[TestClient]:
    with serve(stored.env) as found:
        yield found


def test_the_table_names_every_text_field_of_every_write_route(
        client: TestClient, stored: WorldCopy) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    documented = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            if ref is None:
                continue
            properties = components[ref.rsplit("/", 1)[1]].get("properties", {})
            for name, prop in properties.items():
                options = prop.get("anyOf", [prop])
                if any(o.get("type") == "string" and "format" not in o and "enum" not in o
                       and "$ref" not in o for o in options):
                    documented.add((method.upper(), path, name))
    assert {(f.method, f.path, f.field) for f in fields(stored.world)} == documented


def test_hostile_text_in_every_field_is_refused_records_nothing_and_views_advance(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    created = client.post("/people", headers=w.headers("member"),
                          json={"handle": "pace", "display_name": "Pace"})
    assert created.status_code in (201, 409), created.text  # the PostgreSQL world is shared
    head = ledger_position(client)
    sent = 0
    for field in fields(w):
        url, headers = field.url(w), w.headers(field.token)
        for label, value in hostile_values(field, str(field.body[field.field])):
            where = f"{field.method} {field.path} {field.field}: {label}"
            response = client.request(  # JSON with \u escapes: surrogates can be sent
                field.method, url, headers={**headers, "Content-Type": "application/json"},
                content=json.dumps({**field.body, field.field: value}))
            body = problem_of(response, where)
            sent += 1
            if field.kind in (TEXT, NAME, HANDLE) and label.startswith("U+"):
                assert response.status_code == 422, where
                if label.startswith("U+D"):  # the request's own validation refuses these
                    assert body.get("errors"), (where, body)
                else:  # the ledger's text rules, naming the field and the rule
                    assert body.get("rule") and body.get("field"), (where, body)
            if label.startswith("look-alike"):
                assert body["code"] in ("invalid-input", "handle-taken",
                                        "handle-confusable"), (where, body)
    assert sent > 1100
    assert ledger_position(client) == head, "a refused request recorded something"

    reply = client.post(f"/posts/{w.post}/replies", headers=w.headers("member"),
                        json={"body": "Still\r\nhere, cafe\u0301."})
    assert reply.status_code == 201, reply.text
    position = reply.json()["position"]
    view = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                      params={"min_position": position})
    assert view.status_code == 200, view.text
    replies = view.json()["posts"][0]["replies"]
    mine = [p for p in replies if p["id"] == reply.json()["id"]]
    assert mine and mine[0]["body"] == "Still\nhere, caf\u00e9."  # LF, NFC
    ready = client.get("/readyz").json()
    assert ready["ledger_position"] == position
    assert ready["projection_lag"] == 0


def test_a_look_alike_handle_gets_a_named_409_and_a_precis_variant_is_the_same_handle(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    headers = w.headers("member")
    first = client.post("/people", headers=headers,
                        json={"handle": "Cape", "display_name": "  Cape   Town "})
    assert first.status_code == 201, first.text
    profile = client.get("/people/cape", headers=headers)
    assert profile.status_code == 200, profile.text
    assert (profile.json()["handle"], profile.json()["display_name"]) == ("Cape", "Cape Town")
    head = ledger_position(client)
    refusals = {
        "\uff43\uff41\uff50\uff45": "handle-taken",  # fullwidth: the same handle
        "\u0441\u0430\u0440\u0435": "handle-confusable",  # Cyrillic letters only
        "c\u0430pe": "invalid-input",  # one Cyrillic letter: mixed scripts
        "cape\u200b": "invalid-input",  # invisible
    }
    for handle, code in refusals.items():
        response = client.post("/people", headers=headers,
                               json={"handle": handle, "display_name": "Impostor"})
        assert problem_of(response, handle)["code"] == code, handle
    assert ledger_position(client) == head

    # "Emma" is saved with a claim (m looks like rn): the claim is the ledger's last event,
    # and the views still reach it.
    emma = client.post("/people", headers=headers, json={"handle": "Emma", "display_name": "E"})
    assert emma.status_code == 201, emma.text
    assert emma.json()["position"] == head + 2
    assert problem_of(client.post("/people", headers=headers,
                                  json={"handle": "ernrna", "display_name": "E"}),
                      "ernrna")["code"] == "handle-confusable"
    listed = client.get(f"/communities/{w.community}/threads", headers=headers,
                        params={"min_position": head + 2})
    assert listed.status_code == 200, listed.text
    assert client.get("/readyz").json()["projection_lag"] == 0
