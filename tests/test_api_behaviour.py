"""How the HTTP API behaves: problem documents, body limits, idempotent commands, receipts and
read-your-writes, ETags, cursor pages, the live event stream, and the operational endpoints.

Tests taking ``stored`` run on SQLite (a fresh copy of the world) and on PostgreSQL (one
world for the module; those tests use their own objects and keys, and measure positions
relative to the head they find).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    WorldCopy,
    api_fixture,
    ledger_position,
    pg_world_fixture,
    serve,
    stored_fixture,
    world_copy_fixture,
    world_fixture,
    world_template_fixture,
)

PROBLEM = "application/problem+json"
TYPE = "urn:dialogue-ledger:problem:"


@pytest.fixture
def client(stored: WorldCopy) -> Iterator[TestClient]:
    with serve(stored.env) as found:
        yield found


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """The response is the RFC 9457 problem document for ``code``."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == TYPE + code
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


def key() -> str:
    return f"test-{uuid.uuid4()}"


def new_thread(client: TestClient, world: World, who: str = "member",
               community: str | None = None, title: str = "A new thread") -> dict[str, Any]:
    response = client.post(f"/communities/{community or world.community}/threads",
                           headers=world.headers(who),
                           json={"kind": "question", "title": title, "body": "Well?"})
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def opening_post(client: TestClient, world: World, thread_id: str, position: int) -> str:
    view = client.get(f"/threads/{thread_id}", headers=world.headers("member"),
                      params={"min_position": position})
    assert view.status_code == 200
    post: str = view.json()["posts"][0]["id"]
    return post


# --- problem documents -----------------------------------------------------------------
def test_thread_locked_is_a_409_problem(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    opened = new_thread(client, w)
    post = opening_post(client, w, opened["id"], opened["position"])
    locked = client.post(f"/communities/{w.community}/moderation-decisions",
                         headers=w.headers("moderator"),
                         json={"action": "lock-thread", "reason_code": "harassment",
                               "statement": "Cooling off.", "thread": opened["id"]})
    assert locked.status_code == 201, locked.text
    before = ledger_position(client)
    refused = client.post(f"/posts/{post}/replies", headers=w.headers("jonas"),
                          json={"body": "Let me in."})
    body = problem(refused, 409, "thread-locked")
    assert body["title"] == "Conflict"
    assert ledger_position(client) == before


def test_not_a_member_is_a_403_problem(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world  # lena can see the open community, but has not joined it
    response = client.post(f"/communities/{w.open_community}/threads",
                           headers=w.headers("moderator"),
                           json={"kind": "comment", "title": "Hi", "body": "Hello."})
    problem(response, 403, "not-a-member")


def test_domain_problems_have_stable_types(api: TestClient, world: World) -> None:
    h = world.headers("member")
    cases = [
        (api.post(f"/nominations/{world.nomination}/votes", headers=h,
                  json={"choice": "admit", "reason": "yes"}), 201, None),
        (api.post(f"/nominations/{world.nomination}/votes", headers=h,
                  json={"choice": "admit", "reason": "again"}), 409, "already-voted"),
        (api.post(f"/communities/{world.community}/members", headers=h), 409,
         "invitation-required"),
        (api.post(f"/moderation-decisions/{world.appealed_decision}/appeal", headers=h,
                  json={"text": "again"}), 409, "appeal-already-lodged"),
        (api.post("/people", headers=h, json={"handle": "ruth", "display_name": "Ruth"}),
         409, "handle-taken"),
        (api.post(f"/communities/{world.community}/moderation-decisions",
                  headers=world.headers("moderator"),
                  json={"action": "remove-post", "reason_code": "spam", "statement": "x",
                        "posts": [world.open_thread]}), 404, "not-found"),
        (api.get(f"/threads/{uuid.uuid4()}", headers=h), 404, "not-found"),
        (api.post(f"/posts/{world.post}/edits", headers=world.headers("jonas"),
                  json={"body": "mine now"}), 403, "not-the-author"),
        (api.get(f"/threads/{world.thread}/audit", headers=h), 403, "auditors-only"),
        (api.post("/organisations", headers=h, json={"name": "X", "slug": "xx"}), 403,
         "token-role"),
    ]
    for response, status, code in cases:
        if code is None:
            assert response.status_code == status, response.text
        else:
            problem(response, status, code)


def test_invalid_input_is_a_422_problem_listing_the_errors(api: TestClient,
                                                           world: World) -> None:
    response = api.post(f"/communities/{world.community}/threads",
                        headers=world.headers("member"),
                        json={"kind": "rant", "title": "", "extra": 1})
    body = problem(response, 422, "invalid-input")
    locations = {tuple(e["location"]) for e in body["errors"]}
    assert ("body", "kind") in locations
    assert ("body", "title") in locations
    assert ("body", "body") in locations  # missing
    assert ("body", "extra") in locations  # unknown fields are refused
    for error in body["errors"]:
        assert error["message"] and error["kind"]


def test_malformed_json_is_400(api: TestClient, world: World) -> None:
    response = api.post(f"/communities/{world.community}/threads",
                        headers={**world.headers("member"), "Content-Type": "application/json"},
                        content=b'{"kind": "question", "title": ')
    problem(response, 400, "malformed-json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
def test_a_body_that_is_not_json_is_415(api: TestClient, world: World,
                                        content_type: str) -> None:
    response = api.post(f"/communities/{world.community}/threads",
                        headers={**world.headers("member"), "Content-Type": content_type},
                        content=b"kind=question&title=Hi&body=Hello")
    problem(response, 415, "unsupported-media-type")


def test_a_body_over_the_limit_is_413(world_copy: WorldCopy) -> None:
    w = world_copy.world
    with serve(world_copy.env, body_limit=1024) as client:
        before = ledger_position(client)
        body = {"kind": "question", "title": "Long", "body": "x" * 2000}
        response = client.post(f"/communities/{w.community}/threads",
                               headers=w.headers("member"), json=body)
        problem(response, 413, "body-too-large")
        assert response.json()["max_bytes"] == 1024
        small = client.post(f"/communities/{w.community}/threads",
                            headers=w.headers("member"), json={**body, "body": "short"})
        assert small.status_code == 201
        assert ledger_position(client) == small.json()["position"] > before


def test_a_chunked_body_over_the_limit_is_413(world_copy: WorldCopy) -> None:
    w = world_copy.world

    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "question", "title": "Long", "body": "'
        for _ in range(4):
            yield b"x" * 512
        yield b'"}'

    with serve(world_copy.env, body_limit=1024) as client:
        before = ledger_position(client)
        response = client.post(f"/communities/{w.community}/threads",
                               headers={**w.headers("member"),
                                        "Content-Type": "application/json"},
                               content=chunks())
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert ledger_position(client) == before
        problem(response, 413, "body-too-large")


def test_a_bad_content_length_is_refused(world_copy: WorldCopy) -> None:
    w = world_copy.world
    with serve(world_copy.env, body_limit=1024) as client:
        response = client.post(f"/communities/{w.community}/threads",
                               headers={**w.headers("member"), "Content-Length": "nope",
                                        "Content-Type": "application/json"}, content=b"{}")
        assert response.status_code in (400, 413)


#: Junk requests: (method, url, options); ``{c}``, ``{thread}``, ``{post}`` and
#: ``{nomination}`` stand for the world's community slug, thread, post and nomination.
JSON = {"Content-Type": "application/json"}
JUNK: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/threads/not-a-uuid", {}),
    ("GET", "/threads/{thread}", {"params": {"min_position": "-1"}}),
    ("GET", "/threads/{thread}", {"params": {"min_position": str(2**70)}}),
    ("GET", "/communities/{c}/threads", {"params": {"limit": "0"}}),
    ("GET", "/communities/{c}/threads", {"params": {"limit": "1e9"}}),
    ("GET", "/communities/{c}/threads", {"params": {"after": "!!!"}}),
    ("GET", "/communities/{c}/threads", {"params": {"after": "x" * 600}}),
    ("GET", "/communities/{c}/members", {"params": {"after": "bm90IGpzb24"}}),
    ("GET", "/communities/{c}/nominations", {"params": {"status": "maybe"}}),
    ("GET", "/communities/{c}/commitments", {"params": {"after": "W10="}}),
    ("GET", "/communities/{c}/moderation-log", {"params": {"after": "%%%"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"from": "yesterday"}}),
    ("GET", "/communities/{c}/reports/listening",
     {"params": {"from": "2026-10-01", "to": "2026-09-01"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"at": "1",
                                                              "as_of": "2026-10-01"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"at": str(2**61)}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"pile_on_hours": "nan"}}),
    ("GET", "/communities/{c}/reports/listening",
     {"params": {"from": "0001-01-01T00:00:00", "to": "9999-12-31T23:59:59"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"from": "0001-01-02"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"to": "9999-12-31"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"now": "9999-12-31"}}),
    ("GET", "/communities/{c}/reports/listening", {"params": {"as_of": "0001-01-01"}}),
    ("GET", "/organisations/northwind/reports/listening",
     {"params": {"from": "0001-01-01", "to": "0001-01-03"}}),
    ("GET", "/communities/{c}/events", {"headers": {"Last-Event-ID": "abc"}}),
    ("GET", "/communities/{c}/events", {"params": {"since": "-5"}}),
    ("GET", "/communities/%00", {}),
    ("GET", "/people/" + "x" * 5000, {}),
    ("GET", "/people/%F0%9F%98%80", {}),
    ("POST", "/communities/{c}/threads", {"content": b"[]", "headers": JSON}),
    ("POST", "/communities/{c}/threads", {"content": b"null", "headers": JSON}),
    ("POST", "/communities/{c}/threads", {"content": b"\xff\xfe\x00", "headers": JSON}),
    ("POST", "/communities/{c}/threads", {"content": b"[" * 5000, "headers": JSON}),
    ("POST", "/communities/{c}/threads",
     {"json": {"kind": "question", "title": "\x00", "body": "\ufffd"}}),
    ("POST", "/communities/{c}/threads",
     {"json": {"kind": ["question"], "title": {"a": 1}, "body": 3}}),
    ("POST", "/posts/{post}/replies", {"json": {"body": "x" * 20_001}}),
    ("POST", "/posts/{post}/replies", {"json": {"body": "ok", "kind": "rant"}}),
    ("POST", "/communities/{c}/commitments", {"json": {"posts": ["not-a-uuid"], "text": "x"}}),
    ("POST", "/communities/{c}/commitments",
     {"json": {"posts": ["{post}"], "text": "x", "due_on": "2026-02-30"}}),
    ("POST", "/communities/{c}/moderation-decisions",
     {"json": {"action": "lock-thread", "reason_code": "spam", "statement": "x"}}),
    ("POST", "/communities/{c}/moderation-decisions",
     {"json": {"action": "hide-post", "reason_code": "spam", "statement": "x",
               "posts": ["{post}"], "thread": "{thread}"}}),
    ("PUT", "/communities/{c}/admission-rule", {"json": {"threshold": 2}}),
    ("PUT", "/nominations/{nomination}/votes/mine", {"json": {"choice": "maybe"}}),
    ("POST", "/people", {"json": {"handle": "Bad Handle!", "display_name": "x"}}),
    ("POST", "/people", {"json": {"handle": "a" * 101, "display_name": "x"}}),
    ("POST", "/communities", {"json": {"organisation": "northwind", "name": "x",
                                       "slug": "BAD SLUG", "access": "open"}}),
    ("POST", "/posts/{post}/replies", {"json": {"body": "ok"},
                                       "headers": {"Idempotency-Key": ""}}),
    ("POST", "/posts/{post}/replies", {"json": {"body": "ok"},
                                       "headers": {"Idempotency-Key": "k" * 201}}),
]


def _fill(value: Any, w: World) -> Any:
    if isinstance(value, str):
        return (value.replace("{c}", w.community).replace("{thread}", w.thread)
                .replace("{post}", w.post).replace("{nomination}", w.nomination))
    if isinstance(value, dict):
        return {k: _fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, w) for v in value]
    return value


@pytest.fixture(scope="module")
def junk_client(world_template: Any, tmp_path_factory: pytest.TempPathFactory,
                ) -> Iterator[TestClient]:
    from tests.api_world import copy_template

    with serve(copy_template(world_template, tmp_path_factory.mktemp("junk"))) as found:
        yield found




def _junk_params() -> list[Any]:
    params = []
    for index, (method, url, options) in enumerate(JUNK):
        params.append(pytest.param(method, url, options, id=f"{index}-{method} {url[:40]}"))
    return params


@pytest.mark.parametrize(("method", "url", "options"), _junk_params())
def test_junk_never_produces_a_500(junk_client: TestClient, world_template: Any, method: str,
                                   url: str, options: dict[str, Any]) -> None:
    w: World = world_template.world
    options = _fill(dict(options), w)
    headers = {**w.headers("representative"), **options.pop("headers", {})}
    response = junk_client.request(method, _fill(url, w), headers=headers, **options)
    where = f"{response.status_code} {response.text[:200]}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), where
        assert response.json()["type"].startswith(TYPE), where


# --- Idempotency-Key ----------------------------------------------------------------------
def test_a_retry_with_the_same_key_records_nothing_twice(client: TestClient,
                                                         stored: WorldCopy) -> None:
    w = stored.world
    k = key()
    url = f"/posts/{w.post}/replies"
    headers = {**w.headers("member"), "Idempotency-Key": k}
    first = client.post(url, headers=headers, json={"body": "Said once."})
    assert first.status_code == 201, first.text
    head = ledger_position(client)
    assert head == first.json()["position"]
    for _ in range(2):
        again = client.post(url, headers=headers, json={"body": "Said once."})
        assert again.status_code == first.status_code
        assert again.content == first.content  # the same answer, byte for byte
        assert again.headers["idempotent-replayed"] == "true"
        for header in ("location", "x-ledger-position"):
            assert again.headers.get(header) == first.headers.get(header)
    assert ledger_position(client) == head
    view = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                      params={"min_position": head}).json()
    said = [p for p in view["posts"][0]["replies"] if p.get("body") == "Said once."]
    assert len(said) == 1


def test_a_retry_gets_a_byte_identical_body(api: TestClient, world: World) -> None:
    headers = {**world.headers("member"), "Idempotency-Key": key()}
    first = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "Once."})
    again = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "Once."})
    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_the_same_key_for_another_command_is_409(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    headers = {**w.headers("member"), "Idempotency-Key": key()}
    first = client.post(f"/posts/{w.post}/replies", headers=headers, json={"body": "One."})
    assert first.status_code == 201
    head = ledger_position(client)
    other = client.post(f"/communities/{w.community}/threads", headers=headers,
                        json={"kind": "comment", "title": "Two", "body": "Two."})
    body = problem(other, 409, "command-id-reused")
    assert body["command_id"].endswith(":" + headers["Idempotency-Key"])  # scoped per person
    assert ledger_position(client) == head


def test_keys_of_different_people_do_not_collide(api: TestClient, world: World) -> None:
    k = key()
    ruth = api.post(f"/posts/{world.post}/replies",
                    headers={**world.headers("member"), "Idempotency-Key": k},
                    json={"body": "Ruth's."})
    assert ruth.status_code == 201
    jonas = api.post(f"/posts/{world.post}/replies",
                     headers={**world.headers("jonas"), "Idempotency-Key": k},
                     json={"body": "Jonas's."})
    assert jonas.status_code == 201, jonas.text


def test_the_same_key_with_another_body_is_refused(api: TestClient, world: World) -> None:
    headers = {**world.headers("member"), "Idempotency-Key": key()}
    first = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "Yes."})
    assert first.status_code == 201
    second = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "No!"})
    problem(second, 422, "idempotency-key-reused")
    again = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "Yes."})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_the_same_key_on_another_post_is_refused(api: TestClient, world: World) -> None:
    headers = {**world.headers("member"), "Idempotency-Key": key()}
    first = api.post(f"/posts/{world.post}/replies", headers=headers, json={"body": "Yes."})
    assert first.status_code == 201
    other = api.post(f"/posts/{world.jonas_post}/replies", headers=headers,
                     json={"body": "Yes."})
    problem(other, 422, "idempotency-key-reused")


# --- receipts, read-your-writes, ETags ----------------------------------------------------
def test_a_receipt_position_reads_your_write(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    title = f"Read me {uuid.uuid4().hex[:8]}"
    opened = client.post(f"/communities/{w.community}/threads", headers=w.headers("member"),
                         json={"kind": "question", "title": title, "body": "Now?"})
    assert opened.status_code == 201
    receipt = opened.json()
    assert opened.headers["location"] == f"/threads/{receipt['id']}"
    assert opened.headers["x-ledger-position"] == str(receipt["position"])
    assert "idempotent-replayed" not in opened.headers
    view = client.get(f"/threads/{receipt['id']}", headers=w.headers("jonas"),
                      params={"min_position": receipt["position"]})
    assert view.status_code == 200
    assert view.json()["title"] == title
    assert int(view.headers["x-view-position"]) >= receipt["position"]
    listed = client.get(f"/communities/{w.community}/threads", headers=w.headers("member"),
                        params={"min_position": receipt["position"], "limit": 500})
    assert title in [t["title"] for t in listed.json()["items"]]


def test_min_position_beyond_the_head_is_422(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    head = ledger_position(client)
    response = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                          params={"min_position": head + 1000})
    body = problem(response, 422, "invalid-input")
    assert body["field"] == "min_position"
    assert body["head"] >= head


def test_views_that_lag_answer_503(world_copy: WorldCopy) -> None:
    w = world_copy.world
    with serve(world_copy.env, follow=False) as client:
        client.app.state.services.freshness_timeout = 0.2  # type: ignore[attr-defined]
        receipt = client.post(f"/posts/{w.post}/replies", headers=w.headers("member"),
                              json={"body": "Will you see me?"}).json()
        response = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                              params={"min_position": receipt["position"]})
        problem(response, 503, "view-not-ready")
        assert response.headers["retry-after"] == "1"
        ready = client.get("/readyz").json()
        assert ready["projection_lag"] >= 1


def test_etag_and_if_none_match(client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    opened = new_thread(client, w)
    url = f"/threads/{opened['id']}"
    h = w.headers("member")
    first = client.get(url, headers=h, params={"min_position": opened["position"]})
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    for sent in (tag, f"W/{tag}", f'"nope", {tag}'):
        cached = client.get(url, headers={**h, "If-None-Match": sent})
        assert cached.status_code == 304, sent
        assert cached.content == b""
        assert cached.headers["etag"] == tag
    assert client.get(url, headers={**h, "If-None-Match": '"other"'}).status_code == 200
    post = first.json()["posts"][0]["id"]
    reply = client.post(f"/posts/{post}/replies", headers=w.headers("jonas"),
                        json={"body": "Changed."})
    changed = client.get(url, headers={**h, "If-None-Match": tag},
                         params={"min_position": reply.json()["position"]})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_every_read_sends_an_etag(api: TestClient, world: World) -> None:
    c, h = world.community, world.headers("auditor")
    # a report is computed at ``now`` (the request's time by default): fix it to compare
    period = {"from": "2026-09-01", "to": "2026-11-01", "now": "2026-11-02T00:00:00Z"}
    for url, params in (
            (f"/communities/{c}", {}), ("/communities", {}), (f"/communities/{c}/members", {}),
            (f"/communities/{c}/threads", {}), (f"/threads/{world.thread}", {}),
            (f"/threads/{world.thread}/audit", {}), (f"/communities/{c}/nominations", {}),
            (f"/nominations/{world.nomination}", {}), (f"/communities/{c}/commitments", {}),
            (f"/communities/{c}/moderation-log", {}),
            (f"/communities/{c}/reports/listening", period),
            (f"/organisations/{world.organisation}/reports/listening", period),
            ("/people/ruth", {})):
        first = api.get(url, headers=h, params=params)
        assert first.status_code == 200, url
        again = api.get(url, headers={**h, "If-None-Match": first.headers["etag"]},
                        params=params)
        assert again.status_code == 304, url


# --- cursor pages ----------------------------------------------------------------------------
def _walk(client: TestClient, url: str, headers: dict[str, str], limit: int,
          ) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        response = client.get(url, headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        after = page["next"]
        if after is None:
            return items
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(("path", "limit"), [
    ("/communities/{c}/threads", 3), ("/communities/{c}/threads", 7),
    ("/communities/{c}/members", 4), ("/communities/{c}/nominations", 2),
    ("/communities/{c}/commitments", 1), ("/communities/{c}/moderation-log", 2),
    ("/communities", 1)])
def test_cursor_pages_walk_everything_once(api: TestClient, world: World, path: str,
                                           limit: int) -> None:
    url = path.format(c=world.community)
    h = world.headers("auditor")
    whole = api.get(url, headers=h, params={"limit": 500}).json()
    assert whole["next"] is None
    walked = _walk(api, url, h, limit)
    assert walked == whole["items"]  # same items, same order: no duplicates, no gaps
    assert len(walked) > limit


def test_thread_pages_hold_every_thread(api: TestClient, world: World) -> None:
    walked = _walk(api, f"/communities/{world.community}/threads", world.headers("member"), 5)
    ids = [t["id"] for t in walked]
    assert len(ids) == len(set(ids)) == len(world.hidden_thread_titles)
    assert {t["title"] for t in walked} == set(world.hidden_thread_titles)


@pytest.mark.parametrize("path", [
    "/communities/{c}/threads", "/communities/{c}/members", "/communities/{c}/nominations",
    "/communities/{c}/commitments", "/communities/{c}/moderation-log", "/communities"])
@pytest.mark.parametrize("cursor", ["garbage!", "eyJ4IjoxfQ", "dGhyZWFkczp4Onk"])
def test_a_bad_cursor_is_422(api: TestClient, world: World, path: str, cursor: str) -> None:
    response = api.get(path.format(c=world.community), headers=world.headers("auditor"),
                       params={"after": cursor})
    problem(response, 422, "invalid-input")


# --- Location headers --------------------------------------------------------------------------
def _creations(w: World) -> list[Any]:
    c = w.community
    return [
        pytest.param("member", "/people", {"handle": "newbie", "display_name": "New Bie"},
                     id="person"),
        pytest.param("representative", "/organisations", {"name": "Eastwind",
                                                          "slug": "eastwind"},
                     id="organisation"),
        pytest.param("representative", "/communities",
                     {"organisation": "northwind", "name": "Panel", "slug": "panel",
                      "access": "open"}, id="community"),
        pytest.param("member", f"/communities/{c}/threads",
                     {"kind": "question", "title": "Q", "body": "B"}, id="thread"),
        pytest.param("member", f"/posts/{w.post}/replies", {"body": "R"}, id="reply"),
        pytest.param("member", f"/communities/{c}/nominations",
                     {"nominee": "zara", "statement": "S"}, id="nomination"),
        pytest.param("member", f"/nominations/{w.nomination}/votes",
                     {"choice": "admit", "reason": "R"}, id="vote"),
        pytest.param("representative", f"/posts/{w.post}/acknowledgements", None,
                     id="acknowledgement"),
        pytest.param("representative", f"/communities/{c}/commitments",
                     {"posts": [w.post], "text": "T"}, id="commitment"),
        pytest.param("moderator", f"/communities/{c}/moderation-decisions",
                     {"action": "hide-post", "reason_code": "spam", "statement": "S",
                      "posts": [w.jonas_post]}, id="moderation-decision"),
        pytest.param("member", f"/moderation-decisions/{w.decision}/appeal", {"text": "T"},
                     id="appeal"),
        pytest.param("moderator", f"/communities/{w.open_community}/members", None,
                     id="join"),
    ]


def _creation_params() -> list[Any]:
    placeholder = World(community="c", community_id="", community_name="", open_community="o",
                        open_community_id="", organisation="", people={}, tokens={},
                        thread="", post="p", jonas_post="j", decision="d",
                        appealed_decision="", nomination="n", voted_nomination="",
                        commitment="", open_thread="", hidden_thread_titles=())
    return [pytest.param(p.id, marks=p.marks, id=p.id) for p in _creations(placeholder)]


@pytest.mark.parametrize("name", _creation_params())
def test_a_201_location_can_be_read(api: TestClient, world: World, name: str) -> None:
    (found,) = [p for p in _creations(world) if p.id == name]
    who, url, body = found.values
    response = api.post(url, headers=world.headers(who), json=body)
    assert response.status_code == 201, response.text
    assert "location" in response.headers, "201 Created without a Location"
    location = response.headers["location"]
    read = api.get(location, headers=world.headers(who),
                   params={"min_position": response.json()["position"]})
    assert read.status_code == 200, (location, read.text[:300])


# --- the live event stream -----------------------------------------------------------------
def _events(text: str) -> list[dict[str, str]]:
    """The events of a text/event-stream body (comments and pings skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            events.append(fields)
    return events


def test_the_stream_carries_the_community_s_changes_only(client: TestClient,
                                                         stored: WorldCopy) -> None:
    import orjson

    w = stored.world
    since = ledger_position(client)
    h = w.headers("member")
    ours = [client.post(f"/posts/{w.post}/replies", headers=h, json={"body": "One."}).json()]
    theirs = new_thread(client, w, who="outsider", community=w.open_community)
    ours.append(client.post(f"/posts/{w.post}/replies", headers=h, json={"body": "Two."}).json())
    response = client.get(f"/communities/{w.community}/events", headers=h,
                          params={"since": since, "max_events": 2, "timeout": 10})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert [e["event"] for e in events] == ["change", "change"]
    assert [int(e["id"]) for e in events] == [r["position"] for r in ours]
    for event, receipt in zip(events, ours, strict=True):
        data = orjson.loads(event["data"])
        assert data["position"] == int(event["id"])
        assert data["id"] == receipt["id"]
        assert data["kind"] == "Post.Published"
    assert theirs["id"] not in response.text

    # the other community's own stream has the thread
    other = client.get(f"/communities/{w.open_community}/events",
                       headers=w.headers("outsider"),
                       params={"since": since, "max_events": 1, "timeout": 10})
    (event,) = _events(other.text)
    assert orjson.loads(event["data"])["id"] == theirs["id"]

    # Last-Event-ID resumes after the event it names
    resumed = client.get(f"/communities/{w.community}/events",
                         headers={**h, "Last-Event-ID": events[0]["id"]},
                         params={"max_events": 1, "timeout": 10})
    assert [int(e["id"]) for e in _events(resumed.text)] == [ours[1]["position"]]


def test_the_stream_carries_the_community_s_own_changes(client: TestClient,
                                                       stored: WorldCopy) -> None:
    import orjson

    w = stored.world
    since = ledger_position(client)
    changed = client.put(f"/communities/{w.community}/admission-rule",
                         headers=w.headers("representative"),
                         json={"quorum": 3, "threshold": 0.6, "min_community_votes": 2,
                               "deadline_days": 7, "direct_invitations": True})
    assert changed.status_code == 200, changed.text
    response = client.get(f"/communities/{w.community}/events", headers=w.headers("member"),
                          params={"since": since, "max_events": 1, "timeout": 10})
    (event,) = _events(response.text)
    community = client.get(f"/communities/{w.community}", headers=w.headers("member")).json()
    assert orjson.loads(event["data"]) == {"position": changed.json()["position"],
                                           "id": community["id"],
                                           "kind": "Community.AdmissionRuleChanged"}


def test_a_quiet_stream_ends_at_its_timeout(api: TestClient, world: World) -> None:
    response = api.get(f"/communities/{world.community}/events",
                       headers=world.headers("member"), params={"timeout": 0.3})
    assert response.status_code == 200
    assert _events(response.text) == []


# --- operations --------------------------------------------------------------------------------
def test_healthz_and_readyz(client: TestClient, stored: WorldCopy) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["ledger_position"] >= body["view_position"] >= 0
    assert body["projection_lag"] == body["ledger_position"] - body["view_position"]


def test_metrics(api: TestClient, world: World) -> None:
    api.get(f"/threads/{world.thread}", headers=world.headers("member"))
    api.get(f"/threads/{world.thread}", headers=world.headers("member"))
    api.get(f"/threads/{uuid.uuid4()}", headers=world.headers("member"))
    api.get("/no/such/route")
    receipt = api.post(f"/posts/{world.post}/replies", headers=world.headers("member"),
                       json={"body": "Counted."}).json()
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    requests = "dialogue_ledger_http_requests_total"
    assert samples[f'{requests}{{method="GET",route="/threads/{{thread_id}}",status="200"}}'] \
        == 2
    assert samples[f'{requests}{{method="GET",route="/threads/{{thread_id}}",status="404"}}'] \
        == 1
    assert samples[
        f'{requests}{{method="POST",route="/posts/{{post_id}}/replies",status="201"}}'] == 1
    assert world.thread not in text  # route templates, never raw paths
    assert "/no/such/route" not in text
    assert samples["dialogue_ledger_events_recorded"] >= receipt["position"]
    assert "dialogue_ledger_projection_lag_events" in samples
    assert any(name.startswith("dialogue_ledger_http_request_seconds_bucket")
               and 'route="/threads/{thread_id}"' in name for name in samples)
