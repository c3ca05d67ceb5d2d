"""THE ACCESS MATRIX, walked whole: every role against every endpoint of the app.

The matrix is ``tests.api_world.MATRIX``; ``docs/api.md`` shows the same table (checked
below), and every route of the app must have a row (so a new endpoint cannot be forgotten).

Each cell sends one well-formed request at real objects of the world (``CALLS``) with the
role's token and checks the class of the answer:

* ``allowed``: the request got through the API's access checks to the ledger's rules, and
  was carried out: 2xx (or 304). The only exceptions are the cells of ``REFUSED_BY_RULES``,
  where the world makes a ledger rule refuse what the role may ask (e.g. joining an
  invitation-only community: 409 ``invitation-required``); there the exact problem code is
  checked.
* ``401``: no valid token (problem ``unauthorised``, with ``WWW-Authenticate: Bearer``).
* ``403``: refused for who the caller is: the token's role (``token-role``, and
  ``auditors-cannot-write`` for every command an auditor sends), or the person's standing
  (``not-the-author``, ``not-affected-author``, ...). Nothing is recorded.
* ``404``: hidden: the caller may not know the object exists (``not-found``). Nothing is
  recorded.

Every cell that is not an allowed command runs against one shared world per module and
checks that the ledger's head did not move; every allowed command runs on its own fresh copy
of the world. On PostgreSQL the read and refused cells run (on one world), and a few commands.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from ledger.application import DialogueLedger
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    ALLOWED,
    FORBIDDEN,
    HIDDEN,
    MATRIX,
    ROLES,
    UNAUTHORISED,
    World,
    WorldCopy,
    api_fixture,
    copy_template,
    ledger_position,
    parse_matrix,
    pg_world_fixture,
    render_matrix,
    serve,
    world_copy_fixture,
    world_fixture,
    world_template_fixture,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Any = None
    params: dict[str, Any] | None = None


def _calls(w: World) -> dict[tuple[str, str], Call]:
    """One well-formed request per endpoint, at real objects of the world ``w``."""
    c, n, vn, t, p = (w.community, w.nomination, w.voted_nomination, w.thread, w.post)
    cm, d, ad = w.commitment, w.decision, w.appealed_decision
    get = {
        "/healthz": "/healthz", "/readyz": "/readyz", "/metrics": "/metrics",
        "/openapi.json": "/openapi.json", "/docs": "/docs",
        "/docs/oauth2-redirect": "/docs/oauth2-redirect", "/redoc": "/redoc",
        "/people/{person}": "/people/ruth",
        "/organisations/{organisation}": f"/organisations/{w.organisation}",
        "/moderation-decisions/{decision_id}": f"/moderation-decisions/{d}",
        "/organisations/{organisation}/reports/listening":
            f"/organisations/{w.organisation}/reports/listening",
        "/communities": "/communities",
        "/communities/{community}": f"/communities/{c}",
        "/communities/{community}/members": f"/communities/{c}/members",
        "/communities/{community}/nominations": f"/communities/{c}/nominations",
        "/nominations/{nomination_id}": f"/nominations/{n}",
        "/communities/{community}/threads": f"/communities/{c}/threads",
        "/threads/{thread_id}": f"/threads/{t}",
        "/threads/{thread_id}/audit": f"/threads/{t}/audit",
        "/communities/{community}/commitments": f"/communities/{c}/commitments",
        "/communities/{community}/moderation-log": f"/communities/{c}/moderation-log",
        "/communities/{community}/reports/listening": f"/communities/{c}/reports/listening",
        "/audit/threads/{thread_id}": f"/audit/threads/{t}",
        "/audit/threads/{thread_id}/history": f"/audit/threads/{t}/history",
        "/audit/communities/{community}/roster": f"/audit/communities/{c}/roster?at=60",
        "/audit/communities/{community}/moderation-log":
            f"/audit/communities/{c}/moderation-log",
        "/audit/exports/moderation": "/audit/exports/moderation?format=csv",
        "/audit/exports/events": "/audit/exports/events",
        "/audit/checkpoints": "/audit/checkpoints",
        "/audit/proofs/inclusion": "/audit/proofs/inclusion?position=5",
        "/audit/proofs/consistency": "/audit/proofs/consistency?old=1&new=2",
    }
    calls = {("GET", path): Call("GET", url) for path, url in get.items()}
    calls[("GET", "/communities/{community}/events")] = Call(
        "GET", f"/communities/{c}/events", params={"since": 0, "max_events": 1, "timeout": 5})
    text = {"text": "Twelve crew posts advertised."}
    commands: dict[tuple[str, str], Call] = {
        ("POST", "/people"): Call("POST", "/people",
                                  {"handle": "newcomer", "display_name": "New Comer"}),
        ("POST", "/organisations"): Call("POST", "/organisations",
                                         {"name": "Eastwind", "slug": "eastwind"}),
        ("POST", "/organisations/{organisation}/representatives"): Call(
            "POST", f"/organisations/{w.organisation}/representatives", {"person": "ruth"}),
        ("POST", "/communities"): Call("POST", "/communities", {
            "organisation": w.organisation, "name": "Northwind Panel",
            "slug": "northwind-panel", "access": "invitation-only"}),
        ("PUT", "/communities/{community}/admission-rule"): Call(
            "PUT", f"/communities/{c}/admission-rule",
            {"quorum": 3, "threshold": 0.6, "min_community_votes": 2, "deadline_days": 7,
             "direct_invitations": False}),
        ("POST", "/communities/{community}/members"): Call("POST", f"/communities/{c}/members"),
        ("POST", "/communities/{community}/leave"): Call("POST", f"/communities/{c}/leave"),
        ("POST", "/communities/{community}/roles"): Call(
            "POST", f"/communities/{c}/roles", {"person": "jonas", "role": "moderator"}),
        ("POST", "/communities/{community}/roles/revocations"): Call(
            "POST", f"/communities/{c}/roles/revocations", {"person": "bea", "role": "moderator"}),
        ("POST", "/communities/{community}/invitations"): Call(
            "POST", f"/communities/{c}/invitations", {"person": "zara"}),
        ("POST", "/communities/{community}/invitation/acceptance"): Call(
            "POST", f"/communities/{c}/invitation/acceptance"),
        ("POST", "/communities/{community}/invitation/refusal"): Call(
            "POST", f"/communities/{c}/invitation/refusal"),
        ("POST", "/communities/{community}/nominations"): Call(
            "POST", f"/communities/{c}/nominations",
            {"nominee": "zara", "statement": "Zara maps the rural grid."}),
        ("POST", "/nominations/{nomination_id}/votes"): Call(
            "POST", f"/nominations/{n}/votes", {"choice": "admit", "reason": "a fair voice"}),
        ("PUT", "/nominations/{nomination_id}/votes/mine"): Call(
            "PUT", f"/nominations/{vn}/votes/mine", {"choice": "decline", "reason": "rethought"}),
        ("POST", "/nominations/{nomination_id}/decision"): Call(
            "POST", f"/nominations/{vn}/decision"),
        ("POST", "/communities/{community}/threads"): Call(
            "POST", f"/communities/{c}/threads",
            {"kind": "question", "title": "Meter swap dates?", "body": "When is ours?"}),
        ("POST", "/posts/{post_id}/replies"): Call("POST", f"/posts/{p}/replies",
                                                   {"body": "Same here."}),
        ("POST", "/posts/{post_id}/edits"): Call("POST", f"/posts/{p}/edits",
                                                 {"body": "The review was 13 months ago."}),
        ("POST", "/posts/{post_id}/retraction"): Call("POST", f"/posts/{p}/retraction"),
        ("POST", "/posts/{post_id}/acknowledgements"): Call(
            "POST", f"/posts/{p}/acknowledgements"),
        ("POST", "/communities/{community}/commitments"): Call(
            "POST", f"/communities/{c}/commitments", {"posts": [p], "text": "Dates by Friday."}),
        ("POST", "/commitments/{commitment_id}/progress"): Call(
            "POST", f"/commitments/{cm}/progress", text),
        ("POST", "/commitments/{commitment_id}/fulfilment"): Call(
            "POST", f"/commitments/{cm}/fulfilment", text),
        ("POST", "/commitments/{commitment_id}/abandonment"): Call(
            "POST", f"/commitments/{cm}/abandonment", text),
        ("POST", "/communities/{community}/moderation-decisions"): Call(
            "POST", f"/communities/{c}/moderation-decisions",
            {"action": "hide-post", "reason_code": "spam", "statement": "Advertising.",
             "posts": [w.jonas_post]}),
        ("POST", "/moderation-decisions/{decision_id}/notice"): Call(
            "POST", f"/moderation-decisions/{d}/notice", {"text": "We removed your post."}),
        ("POST", "/moderation-decisions/{decision_id}/appeal"): Call(
            "POST", f"/moderation-decisions/{d}/appeal", {"text": "It was on topic."}),
        ("POST", "/moderation-decisions/{decision_id}/appeal/decision"): Call(
            "POST", f"/moderation-decisions/{ad}/appeal/decision",
            {"outcome": "reversed", "reasons": "It is about tariffs."}),
    }
    return {**calls, **commands}


#: Allowed cells where the world makes a ledger rule refuse: (method, path) -> role -> code.
REFUSED_BY_RULES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/communities/{community}/members"): dict.fromkeys(
        ("member", "representative", "moderator"), "invitation-required"),
    ("POST", "/communities/{community}/invitations"): {
        "representative": "direct-invitations-not-allowed"},
    ("POST", "/communities/{community}/invitation/acceptance"): dict.fromkeys(
        ("member", "representative", "moderator"), "no-pending-invitation"),
    ("POST", "/communities/{community}/invitation/refusal"): dict.fromkeys(
        ("member", "representative", "moderator"), "no-pending-invitation"),
}
#: The codes of a 403: refused for the token's role, or for the person's standing.
FORBIDDEN_CODES = {"token-role", "auditors-cannot-write", "auditors-only",
                   "auditors-and-moderators-only", "not-the-author", "not-affected-author",
                   "not-a-member", "not-a-moderator", "not-a-representative",
                   "cannot-review-own-decision", "moderators-affected-and-auditors-only"}


def send(client: TestClient, call: Call, world: World, who: str,
         headers: dict[str, str] | None = None) -> Response:
    response: Response = client.request(call.method, call.url, json=call.json,
                                        params=call.params,
                                        headers={**world.headers(who), **(headers or {})})
    return response


def check_outcome(response: Response, expected: str, key: tuple[str, str], role: str) -> None:
    """The answer is of the class the matrix gives ``role`` at ``key``."""
    method, _ = key
    where = f"{key} as {role}: {response.status_code} {response.text[:300]}"
    status = response.status_code
    problem: dict[str, Any] = {}
    if status >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), where
        problem = response.json()
        assert problem["type"] == f"urn:dialogue-ledger:problem:{problem['code']}", where
        assert problem["status"] == status, where
    if expected == ALLOWED:
        refused = REFUSED_BY_RULES.get(key, {}).get(role)
        if refused is None:
            assert 200 <= status < 300 or status == 304, where
        else:
            assert status in (409, 422) and problem["code"] == refused, where
    elif expected == UNAUTHORISED:
        assert status == 401 and problem["code"] == "unauthorised", where
        assert response.headers["www-authenticate"].startswith("Bearer"), where
    elif expected == FORBIDDEN:
        assert status == 403 and problem["code"] in FORBIDDEN_CODES, where
        if role == "auditor" and method != "GET":
            assert problem["code"] == "auditors-cannot-write", where
    else:
        assert expected == HIDDEN
        assert status == 404 and problem["code"] == "not-found", where


def _routes() -> set[tuple[str, str]]:
    app = create_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                      "SQLITE_DBNAME": "unused-never-opened.db"})
    try:  # FastAPI >= 0.16x keeps included routers whole in app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        routes = [(route, getattr(route, "path", None)) for route in app.routes]
    else:
        routes = [(c.original_route, c.path) for c in iter_route_contexts(app.routes)]
    found = set()
    for route, path in routes:
        methods = getattr(route, "methods", None) or set()
        for method in methods - {"HEAD"}:
            assert path is not None
            found.add((method, path))
    return found


def _is_command(key: tuple[str, str]) -> bool:
    return key[0] != "GET"


CELLS = [(key, role) for key in MATRIX for role in ROLES]


def _cell_id(key: tuple[str, str], role: str) -> str:
    return f"{key[0]} {key[1]}-{role}"


# --- the table itself ------------------------------------------------------------------
def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = _routes()
    missing = routes - set(MATRIX)
    assert not missing, f"endpoints without a row in the access matrix: {sorted(missing)}"
    stale = set(MATRIX) - routes
    assert not stale, f"matrix rows for endpoints the app does not have: {sorted(stale)}"


def test_every_row_has_a_request() -> None:
    w = World(community="c", community_id="", community_name="", open_community="",
              open_community_id="", organisation="o", people={}, tokens={}, thread="t",
              post="p", jonas_post="j", decision="d", appealed_decision="a",
              nomination="n", voted_nomination="v", commitment="m", open_thread="",
              hidden_thread_titles=())
    assert set(_calls(w)) == set(MATRIX)


def test_the_documented_matrix_is_this_matrix() -> None:
    documented = parse_matrix(DOC.read_text())
    expected = {key: tuple(row.cells) for key, row in MATRIX.items()}
    assert documented == expected, (
        "docs/api.md's access matrix differs from tests/api_world.py's MATRIX; "
        "paste tests.api_world.render_matrix() between the markers:\n" + render_matrix())


def test_no_endpoint_can_alter_or_delete_an_event() -> None:
    """Nothing but POST and PUT writes, and PUT only records a new rule or vote."""
    routes = _routes()
    assert not {m for m, _ in routes} & {"DELETE", "PATCH"}
    assert {key for key in routes if key[0] == "PUT"} == {
        ("PUT", "/communities/{community}/admission-rule"),
        ("PUT", "/nominations/{nomination_id}/votes/mine")}


def test_the_matrix_states_the_rules() -> None:
    """The rules the spec asks for, read off the table (the cells prove the app keeps it)."""
    for key, row in MATRIX.items():
        community_scoped = any(part in key[1] for part in (
            "{community}", "{thread_id}", "{post_id}", "{nomination_id}", "{commitment_id}",
            "{decision_id}"))
        # auditors read everything and write nothing
        assert row.cell("auditor") == (ALLOWED if key[0] == "GET" else FORBIDDEN), key
        # nobody outside an invitation-only community reaches anything of it
        if community_scoped:
            assert row.cell("outsider") in (HIDDEN, FORBIDDEN), key
        # anonymous callers reach only the operational endpoints and the API's documents
        if row.cell("anonymous") != UNAUTHORISED:
            assert "{" not in key[1] and key[1] not in ("/communities", "/people"), key
    # only moderators moderate
    for path in ("/communities/{community}/moderation-decisions",
                 "/moderation-decisions/{decision_id}/notice",
                 "/moderation-decisions/{decision_id}/appeal/decision"):
        allowed = [r for r in ROLES if MATRIX[("POST", path)].cell(r) == ALLOWED]
        assert allowed == ["moderator"], path
    # only the affected author appeals (the world's decision affects the member's post)
    allowed = [r for r in ROLES
               if MATRIX[("POST", "/moderation-decisions/{decision_id}/appeal")].cell(r)
               == ALLOWED]
    assert allowed == ["member"]


# --- every cell on SQLite ---------------------------------------------------------------
@pytest.fixture(scope="module")
def shared(world_template: Any, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[TestClient]:
    """One world for the cells that must not change anything."""
    env = copy_template(world_template, tmp_path_factory.mktemp("matrix-shared"))
    with serve(env) as client:
        yield client


@pytest.mark.parametrize(("key", "role"), CELLS, ids=[_cell_id(k, r) for k, r in CELLS])
def test_cell(key: tuple[str, str], role: str, shared: TestClient, world_template: Any,
              tmp_path: Path) -> None:
    expected = MATRIX[key].cell(role)
    w: World = world_template.world
    call = _calls(w)[key]
    if expected == ALLOWED and _is_command(key):
        with serve(copy_template(world_template, tmp_path)) as client:
            before = ledger_position(client)
            response = send(client, call, w, role)
            check_outcome(response, expected, key, role)
            if 200 <= response.status_code < 300:
                receipt = response.json()
                assert receipt["position"] > before
                assert receipt["position"] == ledger_position(client)
                assert response.headers["x-ledger-position"] == str(receipt["position"])
        return
    before = ledger_position(shared)
    response = send(shared, call, w, role)
    check_outcome(response, expected, key, role)
    assert ledger_position(shared) == before, f"{key} as {role} recorded an event"


# --- the outsider learns nothing ----------------------------------------------------------
def _ghost(w: World) -> World:
    """The same world with every target of the invitation-only community replaced by one
    that does not exist."""
    def fresh() -> str:
        return str(uuid.uuid4())

    return dataclasses.replace(
        w, community="no-such-community", community_id=fresh(), thread=fresh(), post=fresh(),
        jonas_post=fresh(), decision=fresh(), appealed_decision=fresh(), nomination=fresh(),
        voted_nomination=fresh(), commitment=fresh())


def _secrets(w: World) -> list[str]:
    return [w.community_id, w.community_name, *w.hidden_thread_titles]


OUTSIDER_REFUSED = [key for key, row in MATRIX.items()
                    if row.cell("outsider") in (HIDDEN, FORBIDDEN)]
#: Where a hidden community's 404 differs from a missing one's: it carries the community's
#: id (and so tells the outsider that it exists, and its id). See the report in docs/api.md.

def _outsider_params() -> list[Any]:
    params = []
    for key in OUTSIDER_REFUSED:
        params.append(pytest.param(key, id=f"{key[0]} {key[1]}"))
    return params


@pytest.mark.parametrize("key", _outsider_params())
def test_outsider_cannot_tell_hidden_from_missing(key: tuple[str, str], shared: TestClient,
                                                  world_template: Any) -> None:
    """For an outsider, every object of the invitation-only community answers exactly as an
    object that does not exist, and no answer carries anything of it."""
    w: World = world_template.world
    real = send(shared, _calls(w)[key], w, "outsider")
    ghost = send(shared, _calls(_ghost(w))[key], w, "outsider")
    assert real.status_code == ghost.status_code
    real_body, ghost_body = real.json(), ghost.json()
    for body in (real_body, ghost_body):
        body.pop("instance", None)
    assert real_body.keys() == ghost_body.keys(), (real_body, ghost_body)
    assert {k: real_body[k] for k in ("type", "status", "detail", "code")} == \
        {k: ghost_body[k] for k in ("type", "status", "detail", "code")}
    for secret in _secrets(w):
        assert secret not in real.text, f"{key} tells the outsider {secret!r}"


def test_outsider_answers_carry_nothing_of_the_hidden_community(shared: TestClient,
                                                                world_template: Any) -> None:
    """What the outsider may read (the directory, profiles, the organisation's report, the
    open community) names nothing of the invitation-only community."""
    w: World = world_template.world
    reads = [key for key, row in MATRIX.items()
             if row.cell("outsider") == ALLOWED and key[0] == "GET"
             and key[1] not in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect")]
    assert ("GET", "/communities") in reads
    urls = [_calls(w)[key].url for key in reads] + [
        f"/communities/{w.open_community}", f"/communities/{w.open_community}/threads",
        f"/threads/{w.open_thread}", f"/communities/{w.open_community}/members",
        f"/communities/{w.open_community}/reports/listening"]
    for url in urls:
        response = shared.get(url, headers=w.headers("outsider"))
        assert response.status_code == 200, (url, response.text[:300])
        for secret in _secrets(w):
            assert secret not in response.text, f"{url} tells the outsider {secret!r}"


def test_directory_lists_only_what_the_caller_may_see(shared: TestClient,
                                                      world_template: Any) -> None:
    w: World = world_template.world

    def slugs(who: str) -> set[str]:
        response = shared.get("/communities", headers=w.headers(who))
        assert response.status_code == 200
        return {item["slug"] for item in response.json()["items"]}

    assert slugs("outsider") == {w.open_community}
    assert slugs("stranger-rep") == {w.open_community}
    assert slugs("member") == {w.community, w.open_community}
    assert slugs("auditor") == {w.community, w.open_community}
    assert slugs("invitee") == {w.open_community}  # an invitation is not membership


def test_outsider_takes_part_in_the_open_community(api: TestClient, world: World) -> None:
    h = world.headers("outsider")
    assert api.get(f"/communities/{world.open_community}/threads", headers=h).status_code == 200
    opened = api.post(f"/communities/{world.open_community}/threads", headers=h,
                      json={"kind": "comment", "title": "Hello", "body": "Open to all."})
    assert opened.status_code == 201, opened.text
    joined = api.post(f"/communities/{world.open_community}/members",
                      headers=world.headers("moderator"))
    assert joined.status_code == 201, joined.text


def test_a_representative_of_another_organisation_sees_nothing(shared: TestClient,
                                                               world_template: Any) -> None:
    """The outsider column with a representative's token: 404 wherever a representative of
    the community would be allowed."""
    w: World = world_template.world
    calls = _calls(w)
    before = ledger_position(shared)
    for key, row in MATRIX.items():
        scoped = "{community}" in key[1] or ("{" in key[1] and not key[1].startswith(
            ("/people", "/organisations")))
        if not scoped or row.cell("representative") != ALLOWED:
            continue
        response = send(shared, calls[key], w, "stranger-rep")
        assert response.status_code == 404, (key, response.text[:300])
        assert w.community_id not in response.text or "{community}" in key[1]
    assert ledger_position(shared) == before


# --- the rules, person by person ----------------------------------------------------------
def test_only_moderators_of_the_community_moderate(api: TestClient, world: World) -> None:
    url = f"/communities/{world.community}/moderation-decisions"
    body = {"action": "hide-post", "reason_code": "spam", "statement": "Advertising.",
            "posts": [world.jonas_post]}
    expected = {"bea-member": (403, "token-role"),  # a moderator, but a member's token
                "ruth-moderator": (403, "not-a-moderator"),  # a token, but no moderator here
                "tom": (403, "token-role"), "jonas": (403, "token-role"),
                "auditor": (403, "auditors-cannot-write"), "outsider": (403, "token-role"),
                "stranger-rep": (403, "token-role")}
    for who, (status, code) in expected.items():
        response = api.post(url, headers=world.headers(who), json=body)
        assert (response.status_code, response.json()["code"]) == (status, code), who
    assert api.post(url, headers=world.headers("bea"), json=body).status_code == 201


def test_the_moderation_log_follows_the_person_not_the_token(shared: TestClient,
                                                            world_template: Any) -> None:
    """The log is for auditors and the community's moderators: a moderator reads it with any
    token, a moderator token of someone who moderates nothing does not."""
    w: World = world_template.world
    url = f"/communities/{w.community}/moderation-log"
    assert shared.get(url, headers=w.headers("bea-member")).status_code == 200
    refused = shared.get(url, headers=w.headers("ruth-moderator"))
    assert (refused.status_code, refused.json()["code"]) == (
        403, "auditors-and-moderators-only")


def test_a_moderator_does_not_review_their_own_decision(api: TestClient, world: World) -> None:
    url = f"/moderation-decisions/{world.appealed_decision}/appeal/decision"
    body = {"outcome": "upheld", "reasons": "It is an advert."}
    own = api.post(url, headers=world.headers("bea"), json=body)
    assert (own.status_code, own.json()["code"]) == (403, "cannot-review-own-decision")
    assert api.post(url, headers=world.headers("moderator"), json=body).status_code == 200


def test_only_the_affected_author_appeals(api: TestClient, world: World) -> None:
    url = f"/moderation-decisions/{world.decision}/appeal"
    body = {"text": "It was on topic."}
    before = ledger_position(api)
    for who in ("jonas", "representative", "moderator", "bea", "tom"):
        response = api.post(url, headers=world.headers(who), json=body)
        assert (response.status_code, response.json()["code"]) == (
            403, "not-affected-author"), who
    for who, status in (("auditor", 403), ("outsider", 404), ("anonymous", 401)):
        assert api.post(url, headers=world.headers(who), json=body).status_code == status
    assert ledger_position(api) == before
    first = api.post(url, headers=world.headers("member"), json=body)
    assert first.status_code == 201, first.text
    again = api.post(url, headers=world.headers("member"), json=body)
    assert (again.status_code, again.json()["code"]) == (409, "appeal-already-lodged")


def test_an_invitee_answers_the_invitation_but_reads_nothing_before(
        api: TestClient, world: World) -> None:
    h = world.headers("invitee")
    assert api.get(f"/communities/{world.community}/threads", headers=h).status_code == 404
    accepted = api.post(f"/communities/{world.community}/invitation/acceptance", headers=h)
    assert accepted.status_code == 200, accepted.text
    threads = api.get(f"/communities/{world.community}/threads", headers=h,
                      params={"min_position": accepted.json()["position"]})
    assert threads.status_code == 200




def test_an_invitee_may_decline(api: TestClient, world: World) -> None:
    h = world.headers("invitee")
    declined = api.post(f"/communities/{world.community}/invitation/refusal", headers=h)
    assert declined.status_code == 200, declined.text
    again = api.post(f"/communities/{world.community}/invitation/refusal", headers=h)
    assert again.status_code == 404  # no invitation left: hidden again


def test_a_member_who_leaves_sees_nothing_more(api: TestClient, world: World) -> None:
    h = world.headers("member")
    left = api.post(f"/communities/{world.community}/leave", headers=h)
    assert left.status_code == 200, left.text
    for url in (f"/communities/{world.community}", f"/threads/{world.thread}",
                f"/nominations/{world.nomination}"):
        assert api.get(url, headers=h).status_code == 404, url


@pytest.mark.parametrize("header", [
    "Bearer dl_not-a-token", "Bearer ", "Basic cnV0aDpzZWNyZXQ=", "dl_no-scheme",
    "Bearer " + "x" * 500])
def test_bad_tokens_are_401(shared: TestClient, header: str) -> None:
    response = shared.get("/communities", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorised"


def test_a_revoked_token_is_401(world_copy: Any, world: World) -> None:
    from api.tokens import find_token, revoke_token

    app = DialogueLedger(world_copy.env)
    try:
        record = find_token(app, world.tokens["member"])
        assert record is not None
        revoke_token(app, record.id)
    finally:
        app.close()
    with serve(world_copy.env) as client:
        response = client.get("/communities", headers=world.headers("member"))
        assert response.status_code == 401


@pytest.mark.parametrize("method", ["DELETE", "PATCH"])
def test_delete_and_patch_are_refused_everywhere(shared: TestClient, world_template: Any,
                                                 method: str) -> None:
    w: World = world_template.world
    before = ledger_position(shared)
    for key, call in _calls(w).items():
        response = shared.request(method, call.url, headers=w.headers("representative"),
                                  json={"body": "x"})
        assert response.status_code == 405, (key, response.status_code)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert ledger_position(shared) == before


# --- PostgreSQL: the cells that change nothing, and a few commands ------------------------
@pytest.fixture(scope="module")
def pg_client(pg_world: WorldCopy) -> Iterator[TestClient]:
    with serve(pg_world.env) as client:
        yield client


@pytest.mark.postgres
def test_matrix_on_postgres(pg_client: TestClient, pg_world: WorldCopy) -> None:
    """Every cell that must change nothing, on PostgreSQL."""
    client, w = pg_client, pg_world.world
    calls = _calls(w)
    before = ledger_position(client)
    checked = 0
    for key, role in CELLS:
        expected = MATRIX[key].cell(role)
        if expected == ALLOWED and _is_command(key):
            continue
        check_outcome(send(client, calls[key], w, role), expected, key, role)
        checked += 1
    assert ledger_position(client) == before
    assert checked > 150


@pytest.mark.postgres
def test_allowed_commands_on_postgres(pg_client: TestClient, pg_world: WorldCopy) -> None:
    client, w = pg_client, pg_world.world
    calls = _calls(w)
    for key, role in [
            (("POST", "/posts/{post_id}/replies"), "member"),
            (("POST", "/nominations/{nomination_id}/votes"), "representative"),
            (("POST", "/communities/{community}/moderation-decisions"), "moderator"),
            (("POST", "/moderation-decisions/{decision_id}/appeal"), "member"),
            (("POST", "/communities/{community}/members"), "member"),
            (("PUT", "/communities/{community}/admission-rule"), "representative")]:
        check_outcome(send(client, calls[key], w, role), ALLOWED, key, role)

