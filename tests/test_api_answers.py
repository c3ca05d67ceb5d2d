"""Repeated view requests answered from memory (``api/answers.py``): the same answer to the
same request and token only, never past a change of the views, and never longer than the
token and visibility checks it rests on would be trusted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.answers import Answer, Answers
from api.routes.reports import ReportQuery, _until_the_clock_moves
from api.tokens import find_token, revoke_token
from ledger.application import DialogueLedger
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    WorldCopy,
    serve,
    services,
    world_copy_fixture,
    world_template_fixture,
)


@pytest.fixture
def client(world_copy: WorldCopy) -> Iterator[TestClient]:
    with serve(world_copy.env) as found:
        yield found


def elsewhere(world_copy: WorldCopy) -> DialogueLedger:
    """Another process's ledger on the same store: this app hears nothing of its saves."""
    return DialogueLedger(world_copy.env)


def test_a_repeated_read_is_answered_without_routing_and_its_etag_gives_304(
        client: TestClient, world_copy: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world_copy.world
    first = client.get(f"/threads/{w.thread}", headers=w.headers("member"))
    assert first.status_code == 200
    svc = services(client)

    def no_store(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the repeated read reached the route")

    monkeypatch.setattr(svc.ledger, "get", no_store)
    svc.communities_of.clear()
    again = client.get(f"/threads/{w.thread}", headers=w.headers("member"))
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["x-view-position"] == first.headers["x-view-position"]
    assert again.headers["content-type"] == first.headers["content-type"]
    cached = client.get(f"/threads/{w.thread}", headers={
        **w.headers("member"), "If-None-Match": first.headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")
    assert cached.headers["etag"] == first.headers["etag"]
    metrics = client.get("/metrics").text
    assert 'route="/threads/{thread_id}",status="200"} 2.0' in metrics


def test_an_answer_is_never_given_to_another_token(client: TestClient,
                                                   world_copy: WorldCopy) -> None:
    w = world_copy.world
    assert client.get(f"/threads/{w.thread}", headers=w.headers("member")).status_code == 200
    assert client.get(f"/threads/{w.thread}", headers=w.headers("outsider")).status_code == 404
    assert client.get(f"/threads/{w.thread}").status_code == 401


def test_an_answer_ends_when_the_views_move(client: TestClient,
                                           world_copy: WorldCopy) -> None:
    w = world_copy.world
    before = client.get(f"/threads/{w.thread}", headers=w.headers("member"))
    other = elsewhere(world_copy)
    try:
        receipt = other.reply(UUID(w.post), "Written by another process.",
                              actor_id=UUID(w.people["jonas"]))
    finally:
        other.close()
    svc = services(client)
    svc.projector.refresh()
    assert svc.projector.wait(receipt.position, timeout=30)
    after = client.get(f"/threads/{w.thread}", headers=w.headers("member"))
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert b"Written by another process." in after.content


def test_an_answer_ends_with_its_token_when_revoked_elsewhere(
        client: TestClient, world_copy: WorldCopy) -> None:
    w = world_copy.world
    assert client.get(f"/threads/{w.thread}", headers=w.headers("member")).status_code == 200
    other = elsewhere(world_copy)
    try:
        record = find_token(other, w.tokens["member"])
        assert record is not None
        revoke_token(other, record.id)
    finally:
        other.close()
    assert client.get(f"/threads/{w.thread}", headers=w.headers("member")).status_code == 401


def test_an_answer_ends_with_the_readers_membership_when_ended_elsewhere(
        client: TestClient, world_copy: WorldCopy) -> None:
    w = world_copy.world
    services(client).visibility_ttl = 0.0  # trust who sees what no longer than this
    path = f"/communities/{w.community}/reports/listening"
    for url in (f"/threads/{w.thread}", path, f"/communities/{w.community}/threads"):
        assert client.get(url, headers=w.headers("member")).status_code == 200
    other = elsewhere(world_copy)
    try:
        other.leave_community(UUID(w.community_id), actor_id=UUID(w.people["ruth"]))
    finally:
        other.close()
    for url in (f"/threads/{w.thread}", path, f"/communities/{w.community}/threads"):
        assert client.get(url, headers=w.headers("member")).status_code == 404, url


def test_an_answer_is_kept_only_while_valid() -> None:
    answers = Answers(size=2)
    scope = {"type": "http", "path": "/threads/x", "query_string": b"", "root_path": ""}
    late = Answer(b"{}", '"e"', position=7, expires=time.monotonic() + 60, route=None)
    answers.remember(scope, "token", late)
    assert answers.find(scope, "token", 7) is late
    assert answers.find(scope, "another token", 7) is None
    assert answers.find({**scope, "query_string": b"limit=1"}, "token", 7) is None
    assert answers.find(scope, "token", 8) is None  # the views moved on: gone
    assert answers.find(scope, "token", 7) is None
    answers.remember(scope, "token", Answer(b"{}", '"e"', 7, time.monotonic() - 1, None))
    assert answers.find(scope, "token", 7) is None  # expired
    for n in range(3):
        answers.remember({**scope, "path": f"/threads/{n}"}, "token", late)
    assert len(answers.entries) == 2


def test_a_report_of_now_is_answered_until_the_second_ends() -> None:
    moment = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    given = ReportQuery.model_validate({"now": moment.isoformat()})
    assert _until_the_clock_moves(given, given.request(["c"])) is None
    as_of = ReportQuery.model_validate({"as_of": moment.isoformat()})
    assert _until_the_clock_moves(as_of, as_of.request(["c"])) is None
    live = ReportQuery()
    until = _until_the_clock_moves(live, live.request(["c"]))
    assert until is not None and time.monotonic() <= until <= time.monotonic() + 1.0
