"""No existence oracles: whoever may not see something learns nothing about it.

Every route that takes the id of a post, thread, nomination, moderation decision,
commitment or community (as a path segment or in the body) is sent, by three kinds of
callers who may not see the world's invitation-only community ``northwind-voices``, once
with the id of a real object of that community and once with a random id. The two answers
must be the same (status, problem body and headers, but for the id sent) and the ledger
must not move. The callers:

* ``outsider``: olga, a member of the open community ``northwind-open`` only;
* ``outsider-moderator``: olga again, with a moderator token, moderating ``northwind-open``;
* ``stranger-rep``: sam, representative of another organisation (southwind) and founder of
  its open community ``southwind-forum``.

``wrong-community`` is still answered to those who may see where the object belongs.
Community slugs are scoped to their organisation: a representative of another organisation
may create a community with the slug of a hidden one, as with a fresh slug, and a slug alone
names only communities the caller may see (the first created of them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.tokens import issue_token
from ledger.application import DialogueLedger
from ledger.domain import Access, Role, Thread
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    WorldCopy,
    copy_template,
    ledger_position,
    pg_world_fixture,
    postgres_world,
    serve,
    stored_fixture,
    world_copy_fixture,
    world_template_fixture,
)

CALLERS = ("outsider", "outsider-moderator", "stranger-rep")
#: A community each caller may see, to aim commands that refer to other objects at.
OWN = {"outsider": "northwind-open", "outsider-moderator": "northwind-open",
       "stranger-rep": "southwind:southwind-forum"}
FORUM = "southwind-forum"
TEXT = {"text": "Probe."}


@dataclass(frozen=True)
class Probe:
    client: TestClient
    world: World
    tokens: dict[str, str]
    open_post: str  # the opening post of the open community's thread

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _extras(env: dict[str, str], world: World) -> tuple[dict[str, str], str]:
    """olga moderates the open community (and holds a moderator token); sam founds an open
    community of southwind."""
    app = DialogueLedger(env)
    try:
        people = {h: app.person_id(h) for h in ("maya", "olga", "sam")}
        app.grant_role(UUID(world.open_community_id), people["olga"], Role.MODERATOR,
                       actor_id=people["maya"])
        app.create_community(app.organisation_id("southwind"), "Southwind Forum", FORUM,
                             access=Access.OPEN, actor_id=people["sam"])
        tokens = {**world.tokens,
                  "outsider-moderator": issue_token(app, "olga", "moderator", "oracles")[0]}
        open_post = str(app.get(Thread, UUID(world.open_thread)).opening_post_id)
    finally:
        app.close()
    return tokens, open_post


@pytest.fixture(scope="module", name="probe",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def probe_fixture(request: pytest.FixtureRequest, world_template: Any,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    """The API world with the extras, on each store, shared by the module's tests: every
    request they send is refused (and checked to record nothing)."""
    if request.param == "sqlite":
        env = copy_template(world_template, tmp_path_factory.mktemp("oracles"))
        tokens, open_post = _extras(env, world_template.world)
        with serve(env) as client:
            yield Probe(client, world_template.world, tokens, open_post)
    else:
        with postgres_world() as found:
            tokens, open_post = _extras(found.env, found.world)
            with serve(found.env) as client:
                yield Probe(client, found.world, tokens, open_post)


# --- the routes that take ids -------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    url: str  # "{id}" is the id probed; "{own}" a community the caller may see
    hidden: Callable[[World], str]  # the hidden object's id
    body: Callable[[str], Any] | None = None  # the JSON body, given the id probed
    params: dict[str, Any] | None = None


def _post(w: World) -> str:
    return w.post


def _thread(w: World) -> str:
    return w.thread


def _nomination(w: World) -> str:
    return w.nomination


def _decision(w: World) -> str:
    return w.decision


def _commitment(w: World) -> str:
    return w.commitment


def _community(w: World) -> str:
    return w.community_id


def _slug(w: World) -> str:
    return w.community


def _qualified(w: World) -> str:
    return f"{w.organisation}:{w.community}"


def _hide(i: str) -> dict[str, Any]:
    return {"action": "hide-post", "reason_code": "spam", "statement": "Probe.", "posts": [i]}


def _lock(i: str) -> dict[str, Any]:
    return {"action": "lock-thread", "reason_code": "spam", "statement": "Probe.",
            "thread": i}


def _commit(i: str) -> dict[str, Any]:
    return {"posts": [i], "text": "Probe."}


def _vote(i: str) -> dict[str, Any]:
    return {"choice": "admit", "reason": "probe"}


def _text(i: str) -> dict[str, Any]:
    return TEXT


def _community_routes(hidden: Callable[[World], str]) -> dict[str, Route]:
    """Every route under /communities/{community}, for one way of naming a community."""
    c = "/communities/{id}"
    rule = {"quorum": 3, "threshold": 0.6, "min_community_votes": 2, "deadline_days": 7,
            "direct_invitations": False}
    routes = [
        Route("GET", c, hidden), Route("GET", c + "/members", hidden),
        Route("GET", c + "/threads", hidden), Route("GET", c + "/nominations", hidden),
        Route("GET", c + "/commitments", hidden), Route("GET", c + "/moderation-log", hidden),
        Route("GET", c + "/reports/listening", hidden),
        Route("GET", c + "/events", hidden, params={"since": 0, "max_events": 1,
                                                    "timeout": 1}),
        Route("GET", "/audit" + c + "/roster", hidden),
        Route("GET", "/audit" + c + "/moderation-log", hidden),
        Route("PUT", c + "/admission-rule", hidden, lambda i: rule),
        Route("POST", c + "/members", hidden), Route("POST", c + "/leave", hidden),
        Route("POST", c + "/roles", hidden, lambda i: {"person": "olga", "role": "moderator"}),
        Route("POST", c + "/roles/revocations", hidden,
              lambda i: {"person": "bea", "role": "moderator"}),
        Route("POST", c + "/invitations", hidden, lambda i: {"person": "zara"}),
        Route("POST", c + "/invitation/acceptance", hidden),
        Route("POST", c + "/invitation/refusal", hidden),
        Route("POST", c + "/nominations", hidden,
              lambda i: {"nominee": "zara", "statement": "Probe."}),
        Route("POST", c + "/threads", hidden,
              lambda i: {"kind": "question", "title": "Probe?", "body": "Probe."}),
        Route("POST", c + "/commitments", hidden, lambda i: {"posts": [], "text": "Probe."}),
        Route("POST", c + "/moderation-decisions", hidden,
              lambda i: {"action": "suspend-member", "reason_code": "spam",
                         "statement": "Probe.", "member": "ruth"}),
    ]
    return {f"{r.method} {r.url}": r for r in routes}


ROUTES: dict[str, Route] = {
    **{f"{r.method} {r.url}": r for r in [
        Route("POST", "/posts/{id}/replies", _post, lambda i: {"body": "Probe."}),
        Route("POST", "/posts/{id}/edits", _post, lambda i: {"body": "Probe."}),
        Route("POST", "/posts/{id}/retraction", _post),
        Route("POST", "/posts/{id}/acknowledgements", _post),
        Route("GET", "/threads/{id}", _thread),
        Route("GET", "/threads/{id}/audit", _thread),
        Route("GET", "/audit/threads/{id}", _thread),
        Route("GET", "/audit/threads/{id}/history", _thread),
        Route("GET", "/nominations/{id}", _nomination),
        Route("POST", "/nominations/{id}/votes", _nomination, _vote),
        Route("PUT", "/nominations/{id}/votes/mine", _nomination, _vote),
        Route("POST", "/nominations/{id}/decision", _nomination),
        Route("GET", "/moderation-decisions/{id}", _decision),
        Route("POST", "/moderation-decisions/{id}/notice", _decision, _text),
        Route("POST", "/moderation-decisions/{id}/appeal", _decision, _text),
        Route("POST", "/moderation-decisions/{id}/appeal/decision", _decision,
              lambda i: {"outcome": "upheld", "reasons": "Probe."}),
        Route("POST", "/commitments/{id}/progress", _commitment, _text),
        Route("POST", "/commitments/{id}/fulfilment", _commitment, _text),
        Route("POST", "/commitments/{id}/abandonment", _commitment, _text),
        # ids in the body of a command on a community the caller may see
        Route("POST", "/communities/{own}/moderation-decisions#posts", _post, _hide),
        Route("POST", "/communities/{own}/moderation-decisions#thread", _thread, _lock),
        Route("POST", "/communities/{own}/commitments#posts", _post, _commit),
    ]},
    **{f"{k} (by id)": r for k, r in _community_routes(_community).items()},
    **{f"{k} (by slug)": r for k, r in _community_routes(_slug).items()},
    **{f"{k} (by organisation:slug)": r for k, r in _community_routes(_qualified).items()},
}


def _random(route: Route, world: World) -> str:
    """A reference that names nothing, in the same form as the hidden one."""
    if route.hidden is _slug:
        return "no-such-" + uuid.uuid4().hex[:10]
    if route.hidden is _qualified:
        return f"{world.organisation}:no-such-{uuid.uuid4().hex[:10]}"
    return str(uuid.uuid4())


def _send(probe: Probe, route: Route, who: str, ref: str) -> Response:
    url = route.url.partition("#")[0].replace("{id}", ref).replace("{own}", OWN[who])
    return probe.client.request(route.method, url, params=route.params,
                                json=None if route.body is None else route.body(ref),
                                headers=probe.headers(who))


def _answer(response: Response, ref: str) -> tuple[int, Any, dict[str, str]]:
    """Status, problem body and headers, with the reference sent replaced by a marker."""
    body = orjson.loads(response.content.replace(ref.encode(), b"<ref>"))
    headers = {k: v.replace(ref, "<ref>") for k, v in response.headers.items()
               if k not in ("date", "content-length")}
    return response.status_code, body, headers


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("key", list(ROUTES))
def test_a_hidden_object_is_answered_exactly_as_a_random_id(probe: Probe, key: str,
                                                            who: str) -> None:
    route = ROUTES[key]
    hidden, unknown_ref = route.hidden(probe.world), _random(route, probe.world)
    before = ledger_position(probe.client)
    seen = _send(probe, route, who, hidden)
    unknown = _send(probe, route, who, unknown_ref)
    where = f"{key} as {who}: {seen.status_code} {seen.text[:300]} / {unknown.text[:300]}"
    assert 400 <= seen.status_code < 500, where
    assert _answer(seen, hidden) == _answer(unknown, unknown_ref), where
    assert seen.json()["code"] != "wrong-community", where
    assert ledger_position(probe.client) == before, where


# --- wrong-community for those who may see it ---------------------------------------------
def test_a_post_of_a_community_the_caller_sees_is_still_answered_wrong_community(
        probe: Probe) -> None:
    """maya represents the organisation in both communities and sees the open one: a
    commitment of the invitation-only community cannot answer the open one's post."""
    before = ledger_position(probe.client)
    response = probe.client.post(f"/communities/{probe.world.community}/commitments",
                                 json=_commit(probe.open_post),
                                 headers=probe.headers("representative"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "wrong-community"
    lena = probe.client.post(f"/communities/{probe.world.community}/moderation-decisions",
                             json=_hide(probe.open_post), headers=probe.headers("moderator"))
    assert lena.status_code == 422 and lena.json()["code"] == "wrong-community", lena.text
    assert ledger_position(probe.client) == before


# --- slugs ------------------------------------------------------------------------------
def test_another_organisation_may_take_the_slug_of_a_hidden_community_as_a_fresh_one(
        stored: WorldCopy) -> None:
    w = stored.world
    with serve(stored.env) as client:
        sam = {"Authorization": f"Bearer {w.tokens['stranger-rep']}"}
        answers = []
        for slug in (w.community, "fresh-" + uuid.uuid4().hex[:8]):
            response = client.post("/communities", headers=sam, json={
                "organisation": "southwind", "name": "Southwind Voices", "slug": slug,
                "access": "open"})
            assert response.status_code == 201, response.text
            assert response.headers["location"] == f"/communities/{response.json()['id']}"
            answers.append((response.status_code, sorted(response.json())))
        assert answers[0] == answers[1]
        again = client.post("/communities", headers=sam, json={
            "organisation": "southwind", "name": "Again", "slug": w.community,
            "access": "open"})
        assert again.status_code == 409 and again.json()["code"] == "slug-taken"

        theirs = client.get(f"/communities/southwind:{w.community}", headers=sam).json()["id"]
        voices = w.community_id
        # a slug alone names the one community the caller sees: sam and olga see only
        # southwind's, exactly as if northwind's did not exist
        for who in ("stranger-rep", "outsider"):
            found = client.get(f"/communities/{w.community}", headers=w.headers(who))
            assert found.status_code == 200 and found.json()["id"] == theirs, found.text
        # ruth sees both: the slug alone still names the one she saw first (a newcomer
        # cannot take it), and the qualified references name each
        for ref, expected in ((w.community, voices), (f"northwind:{w.community}", voices),
                              (f"southwind:{w.community}", theirs)):
            found = client.get(f"/communities/{ref}", headers=w.headers("member"))
            assert found.status_code == 200 and found.json()["id"] == expected, found.text
        assert client.get(f"/communities/{voices}/threads",
                          headers=w.headers("member")).status_code == 200
        # and olga cannot reach northwind's by any name
        for ref in (voices, f"northwind:{w.community}"):
            hidden = client.get(f"/communities/{ref}", headers=w.headers("outsider"))
            assert hidden.status_code == 404 and hidden.json()["code"] == "not-found"
