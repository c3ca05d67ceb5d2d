"""The world the HTTP API tests run in, the clients that reach it, and THE ACCESS MATRIX.

``build_world(ledger)`` records the Northwind demo (``ledger.demo.record_demo``) and then, on
the real clock, a few more things every test can aim at:

* ``northwind-voices`` (invitation-only, the demo's): a thread opened by ruth (``thread``,
  its opening post ``post``) with a reply by jonas (``jonas_post``); two of ruth's replies
  moderated by bea: ``decision`` (removed, not appealed) and ``appealed_decision`` (hidden,
  appealed by ruth); an open nomination without votes (``nomination``, for hugo), one with
  five votes that can be decided (``voted_nomination``, for ivan), and ivy admitted by
  nomination but not yet answering her invitation; an open commitment (``commitment``);
* ``northwind-open``: an open community of the same organisation, with olga and ruth, and a
  thread opened by olga (``open_thread``);
* ``southwind``: another organisation, founded by sam, who is in neither community.

Tokens (``World.tokens``), by the name the tests use:

============== ====== ============== ==========================================================
name           person token role     who they are
============== ====== ============== ==========================================================
member         ruth   member         a member of northwind-voices
representative maya   representative the organisation's founder and representative there
moderator      lena   moderator      the organisation-side moderator of northwind-voices
auditor        ines   auditor        the external auditor
outsider       olga   member         in northwind-open only: an outsider of northwind-voices
invitee        ivy    member         admitted by nomination, invitation not yet answered
jonas          jonas  member         another member
bea            bea    moderator      the community-side moderator (took both decisions)
bea-member     bea    member         a moderator person holding a member token
ruth-moderator ruth   moderator      a moderator token held by someone who moderates nothing
tom            tom    representative a second representative of the organisation
stranger-rep   sam    representative southwind's representative, outside northwind-voices
============== ====== ============== ==========================================================

A session builds the world once into a SQLite file (``build_template``; fixture
``world_template``); each test gets a copy of it (fixtures ``world_copy``: its env and the
``World``, and ``world``), so a test may change its world freely. ``serve(env)`` gives a
``TestClient`` with the app's lifespan running; the ``api`` fixture is that client on the
test's copy. Import the fixtures into a test module by their function names::

    from tests.api_world import api_fixture, world_copy_fixture  # noqa: F401

THE ACCESS MATRIX (``MATRIX``) is the one table of who may call what; ``docs/api.md`` shows
it between the ``access-matrix`` markers, and ``test_api_access_matrix`` checks that the doc
says exactly this, that every route of the app has a row, and that the app answers so.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.tokens import issue_token
from ledger.application import DialogueLedger
from ledger.demo import COMMUNITY_SLUG, record_demo
from ledger.domain import Access, Action, Choice, PostKind, ReasonCode, Thread
from ledger.domain.base import now_utc
from projections.runner import Projector
from replay import seal

ROLES = ("anonymous", "outsider", "member", "representative", "moderator", "auditor")
#: Matrix cells: the request got through to the ledger's rules, or was refused so.
ALLOWED, UNAUTHORISED, FORBIDDEN, HIDDEN = "allowed", "401", "403", "404"
A, U, F, H = ALLOWED, UNAUTHORISED, FORBIDDEN, HIDDEN

#: Who holds each token (token name -> (handle, token role)).
TOKEN_HOLDERS: dict[str, tuple[str, str]] = {
    "member": ("ruth", "member"),
    "representative": ("maya", "representative"),
    "moderator": ("lena", "moderator"),
    "auditor": ("ines", "auditor"),
    "outsider": ("olga", "member"),
    "invitee": ("ivy", "member"),
    "jonas": ("jonas", "member"),
    "bea": ("bea", "moderator"),
    "bea-member": ("bea", "member"),
    "ruth-moderator": ("ruth", "moderator"),
    "tom": ("tom", "representative"),
    "stranger-rep": ("sam", "representative"),
}
EXTRA_PEOPLE = {"olga": "Olga Petrova", "hugo": "Hugo Brandt", "ivan": "Ivan Horvat",
                "ivy": "Ivy Chen", "zara": "Zara Ahmed", "sam": "Sam Southwind"}
OPEN_SLUG = "northwind-open"
HIDDEN_TITLE = "Matrix: when is the next tariff review?"


@dataclass(frozen=True)
class World:
    community: str  # slug of the invitation-only community
    community_id: str
    community_name: str
    open_community: str
    open_community_id: str
    organisation: str
    people: dict[str, str]  # handle -> id
    tokens: dict[str, str]  # token name -> bearer token
    thread: str
    post: str  # ruth's opening post of ``thread``
    jonas_post: str
    decision: str  # bea removed a reply of ruth's; not appealed
    appealed_decision: str  # bea hid another reply of ruth's; ruth appealed
    nomination: str  # open, no votes
    voted_nomination: str  # open, five admit votes: decidable
    commitment: str  # open
    open_thread: str
    hidden_thread_titles: tuple[str, ...]  # every thread title of northwind-voices

    def headers(self, who: str) -> dict[str, str]:
        """Request headers for a token name ('anonymous': none)."""
        if who == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_world(app: DialogueLedger) -> World:
    """Record the demo and the extras described above into ``app``'s (empty) store."""
    summary = record_demo(app)
    app.clock = now_utc  # the demo ran on its story clock, which ends in the past
    p = dict(summary.people)
    for handle, name in EXTRA_PEOPLE.items():
        p[handle] = app.register_person(handle, name).id
    cid = summary.community_id
    maya, bea, ruth = p["maya"], p["bea"], p["ruth"]
    jonas, priya = p["jonas"], p["priya"]
    org = app.organisation_id("northwind")
    app.found_organisation("Southwind Power", "southwind", actor_id=p["sam"])

    open_id = app.create_community(org, "Northwind Open Forum", OPEN_SLUG, access=Access.OPEN,
                                   actor_id=maya).id
    app.join_community(open_id, actor_id=p["olga"])
    app.join_community(open_id, actor_id=ruth)
    open_thread = app.open_thread(open_id, PostKind.QUESTION, "Open forum: anyone there?",
                                  "This forum is open to all.", actor_id=p["olga"]).id

    thread = app.open_thread(cid, PostKind.QUESTION, HIDDEN_TITLE,
                             "The last review was a year ago. When is the next one?",
                             actor_id=ruth).id
    post = app.get(Thread, thread).opening_post_id
    jonas_post = app.reply(post, "Same question from my readers.", actor_id=jonas).id
    removed = app.reply(post, "Off topic: who won the match?", actor_id=ruth).id
    hidden = app.reply(post, "A link to my own blog.", actor_id=ruth).id
    decision = app.moderate(cid, Action.REMOVE_POST, ReasonCode.OFF_TOPIC,
                            "Please keep to the tariff review.", post_ids=[removed],
                            actor_id=bea).id
    appealed = app.moderate(cid, Action.HIDE_POST, ReasonCode.SPAM, "Self-promotion.",
                            post_ids=[hidden], actor_id=bea).id
    app.lodge_appeal(appealed, "The blog post is about tariffs, not an advert.", actor_id=ruth)

    nomination = app.nominate(cid, p["hugo"], "Hugo runs the village energy co-op.",
                              actor_id=priya).id
    voted = app.nominate(cid, p["ivan"], "Ivan repairs heat pumps for free.",
                         actor_id=priya).id
    for handle in ("ruth", "bea", "jonas", "maya", "lena"):
        app.cast_vote(voted, Choice.ADMIT, "a useful voice", actor_id=p[handle])
    ivy = app.nominate(cid, p["ivy"], "Ivy reports on the grid.", actor_id=priya).id
    for handle in ("ruth", "bea", "jonas", "amara", "maya"):
        app.cast_vote(ivy, Choice.ADMIT, "yes", actor_id=p[handle])
    app.decide_nomination(ivy, actor_id=priya)

    commitment = app.make_commitment(cid, [post], "Publish the tariff review dates.",
                                     actor_id=maya).id

    tokens = {name: issue_token(app, handle, role, f"api tests: {name}")[0]
              for name, (handle, role) in TOKEN_HOLDERS.items()}
    signing_key = Ed25519PrivateKey.generate()  # two checkpoints, for the auditors' proofs
    seal.checkpoint(app, signing_key)
    seal.checkpoint(app, signing_key)
    projector = Projector(app)
    projector.catch_up()
    titles = tuple(t["title"] for t in _all_threads(projector, str(cid)))
    return World(
        community=COMMUNITY_SLUG, community_id=str(cid), community_name="Northwind Voices",
        open_community=OPEN_SLUG, open_community_id=str(open_id), organisation="northwind",
        people={h: str(i) for h, i in p.items()}, tokens=tokens, thread=str(thread),
        post=str(post), jonas_post=str(jonas_post), decision=str(decision),
        appealed_decision=str(appealed), nomination=str(nomination),
        voted_nomination=str(voted), commitment=str(commitment),
        open_thread=str(open_thread), hidden_thread_titles=titles)


def _all_threads(projector: Projector, community_id: str) -> list[dict[str, Any]]:
    from projections.queries import ViewReader

    reader = ViewReader(projector)
    found: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        page = reader.threads(community_id, limit=200, after=after)
        found.extend(page["items"])
        after = page["next"]
        if after is None:
            break
    return found


# --- stores and clients ----------------------------------------------------------------
def sqlite_env(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


@dataclass(frozen=True)
class Template:
    path: Path
    world: World


def build_template(folder: Path) -> Template:
    """The world, recorded once into a SQLite file to copy."""
    path = folder / "world.db"
    app = DialogueLedger(sqlite_env(path))
    try:
        world = build_world(app)
    finally:
        app.close()
    return Template(path, world)


def copy_template(template: Template, folder: Path) -> dict[str, str]:
    """A private copy of the template's store; the env to open it."""
    target = folder / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(template.path) + suffix)
        if source.exists():
            shutil.copyfile(source, Path(str(target) + suffix))
    return sqlite_env(target)


@contextmanager
def serve(env: Mapping[str, str], **options: Any) -> Iterator[TestClient]:
    """A TestClient on a new app over ``env``, its lifespan running."""
    app = create_app(dict(env), **options)
    with TestClient(app) as client:
        yield client


def services(client: TestClient) -> Services:
    """The running app's services (ledger, projector, commands, caches)."""
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def ledger_position(client: TestClient) -> int:
    position: int = client.get("/readyz").json()["ledger_position"]
    return position


@dataclass(frozen=True)
class WorldCopy:
    env: dict[str, str]
    world: World


@pytest.fixture(scope="session", name="world_template")
def world_template_fixture(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("api-world"))


@pytest.fixture(name="world_copy")
def world_copy_fixture(world_template: Template, tmp_path: Path) -> WorldCopy:
    """A fresh copy of the world on SQLite, for this test alone."""
    return WorldCopy(copy_template(world_template, tmp_path), world_template.world)


@pytest.fixture(name="world")
def world_fixture(world_copy: WorldCopy) -> World:
    return world_copy.world


@pytest.fixture(name="api")
def api_fixture(world_copy: WorldCopy) -> Iterator[TestClient]:
    """A TestClient (lifespan running) on this test's copy of the world."""
    with serve(world_copy.env) as client:
        yield client


@contextmanager
def postgres_world() -> Iterator[WorldCopy]:
    """The world in a new PostgreSQL schema (dropped afterwards); skips where no server
    answers (fails in CI), as the conftest's ``postgres_env`` does."""
    import uuid

    from tests.conftest import PG, pg_connect, postgres_available

    postgres_available()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG, "POSTGRES_SCHEMA": schema}
    try:
        app = DialogueLedger(env)
        try:
            world = build_world(app)
        finally:
            app.close()
        yield WorldCopy(env, world)
    finally:
        with pg_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="module", name="pg_world")
def pg_world_fixture() -> Iterator[WorldCopy]:
    """The world on PostgreSQL, shared by a module's tests (which must not depend on each
    other's writes)."""
    with postgres_world() as found:
        yield found


@pytest.fixture(name="stored", params=["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)])
def stored_fixture(request: pytest.FixtureRequest) -> WorldCopy:
    """The world on each kind of store: a fresh SQLite copy, or the module's PostgreSQL
    world."""
    if request.param == "sqlite":
        found: WorldCopy = request.getfixturevalue("world_copy")
    else:
        found = request.getfixturevalue("pg_world")
    return found


# --- THE ACCESS MATRIX ----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    cells: tuple[str, str, str, str, str, str]  # by ROLES
    note: str = ""

    def cell(self, role: str) -> str:
        return self.cells[ROLES.index(role)]


def _row(anonymous: str, outsider: str, member: str, representative: str, moderator: str,
         auditor: str, note: str = "") -> Row:
    return Row((anonymous, outsider, member, representative, moderator, auditor), note)


EVERYONE = _row(A, A, A, A, A, A, "no token needed")
READ = _row(U, H, A, A, A, A)
WRITE = _row(U, H, A, A, A, F)
REPRESENTATIVES = _row(U, F, F, A, F, F, "token role representative; the ledger then checks "
                                          "the person represents the organisation here")
MODERATORS = _row(U, F, F, F, A, F, "token role moderator; the ledger then checks the "
                                    "person moderates this community")

MATRIX: dict[tuple[str, str], Row] = {
    # operations and the API's own documents
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
    # people and organisations
    ("POST", "/people"): _row(U, A, A, A, A, F, "any token but an auditor's"),
    ("GET", "/people/{person}"): _row(U, A, A, A, A, A, "public profiles"),
    ("POST", "/organisations"): _row(U, F, F, A, F, F, "token role representative"),
    ("GET", "/organisations/{organisation}"): _row(
        U, A, A, A, A, A, "public: name, slug, representatives"),
    ("POST", "/organisations/{organisation}/representatives"): REPRESENTATIVES,
    ("GET", "/organisations/{organisation}/reports/listening"): _row(
        U, A, A, A, A, A, "over the communities the caller may see"),
    # communities and memberships
    ("GET", "/communities"): _row(U, A, A, A, A, A, "lists only what the caller may see"),
    ("POST", "/communities"): _row(U, F, F, A, F, F, "token role representative"),
    ("GET", "/communities/{community}"): READ,
    ("PUT", "/communities/{community}/admission-rule"): _row(
        U, F, F, A, F, F, "records a RuleChanged event"),
    ("GET", "/communities/{community}/members"): READ,
    ("POST", "/communities/{community}/members"): _row(
        U, H, A, A, A, F, "joining an invitation-only community: 409 invitation-required"),
    ("POST", "/communities/{community}/leave"): WRITE,
    ("POST", "/communities/{community}/roles"): REPRESENTATIVES,
    ("POST", "/communities/{community}/roles/revocations"): REPRESENTATIVES,
    ("POST", "/communities/{community}/invitations"): REPRESENTATIVES,
    ("POST", "/communities/{community}/invitation/acceptance"): _row(
        U, H, A, A, A, F, "a pending invitation makes the community visible for this"),
    ("POST", "/communities/{community}/invitation/refusal"): _row(
        U, H, A, A, A, F, "a pending invitation makes the community visible for this"),
    # nominations
    ("GET", "/communities/{community}/nominations"): READ,
    ("POST", "/communities/{community}/nominations"): WRITE,
    ("GET", "/nominations/{nomination_id}"): READ,
    ("POST", "/nominations/{nomination_id}/votes"): WRITE,
    ("PUT", "/nominations/{nomination_id}/votes/mine"): _row(
        U, H, A, A, A, F, "records a VoteChanged event"),
    ("POST", "/nominations/{nomination_id}/decision"): WRITE,
    # threads and posts
    ("GET", "/communities/{community}/threads"): READ,
    ("POST", "/communities/{community}/threads"): WRITE,
    ("GET", "/threads/{thread_id}"): READ,
    ("GET", "/threads/{thread_id}/audit"): _row(
        U, F, F, F, F, A, "auditors only; the 403 does not depend on the thread"),
    ("POST", "/posts/{post_id}/replies"): WRITE,
    ("POST", "/posts/{post_id}/edits"): _row(U, H, A, F, F, F,
                                             "the author only (403 not-the-author)"),
    ("POST", "/posts/{post_id}/retraction"): _row(U, H, A, F, F, F,
                                                  "the author only (403 not-the-author)"),
    # the organisation's listening
    ("POST", "/posts/{post_id}/acknowledgements"): REPRESENTATIVES,
    ("GET", "/communities/{community}/commitments"): READ,
    ("POST", "/communities/{community}/commitments"): REPRESENTATIVES,
    ("POST", "/commitments/{commitment_id}/progress"): REPRESENTATIVES,
    ("POST", "/commitments/{commitment_id}/fulfilment"): REPRESENTATIVES,
    ("POST", "/commitments/{commitment_id}/abandonment"): REPRESENTATIVES,
    # moderation
    ("POST", "/communities/{community}/moderation-decisions"): MODERATORS,
    ("GET", "/moderation-decisions/{decision_id}"): _row(
        U, H, A, F, A, A, "the community's moderators, the people it affects (the world's "
                          "decision affects the member), auditors"),
    ("POST", "/moderation-decisions/{decision_id}/notice"): MODERATORS,
    ("POST", "/moderation-decisions/{decision_id}/appeal"): _row(
        U, H, A, F, F, F, "the affected author only (403 not-affected-author)"),
    ("POST", "/moderation-decisions/{decision_id}/appeal/decision"): _row(
        U, F, F, F, A, F, "another moderator than the one who decided"),
    ("GET", "/communities/{community}/moderation-log"): _row(
        U, H, F, F, A, A, "auditors, and the community's moderators whatever their token"),
    # reports and live changes
    ("GET", "/communities/{community}/reports/listening"): READ,
    ("GET", "/communities/{community}/events"): _row(U, H, A, A, A, A, "Server-Sent Events"),
    # auditors: the record as it stood, histories, exports, checkpoints and proofs
    **{("GET", path): _row(U, F, F, F, F, A, "auditors only") for path in (
        "/audit/threads/{thread_id}", "/audit/threads/{thread_id}/history",
        "/audit/communities/{community}/roster",
        "/audit/communities/{community}/moderation-log", "/audit/exports/moderation",
        "/audit/exports/events", "/audit/checkpoints", "/audit/proofs/inclusion",
        "/audit/proofs/consistency")},
}

MATRIX_START = "<!-- access-matrix:start -->"
MATRIX_END = "<!-- access-matrix:end -->"
_SHOWN = {ALLOWED: "allowed", UNAUTHORISED: "401", FORBIDDEN: "403", HIDDEN: "404"}


def render_matrix() -> str:
    """THE ACCESS MATRIX as the Markdown table docs/api.md shows."""
    lines = ["| Endpoint | " + " | ".join(ROLES) + " | Notes |",
             "|---|" + "---|" * len(ROLES) + "---|"]
    for (method, path), row in MATRIX.items():
        cells = " | ".join(_SHOWN[c] for c in row.cells)
        lines.append(f"| `{method} {path}` | {cells} | {row.note} |")
    return "\n".join(lines)


def parse_matrix(markdown: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """The access matrix table of a Markdown document (between the markers)."""
    start, end = markdown.index(MATRIX_START), markdown.index(MATRIX_END)
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for line in markdown[start:end].splitlines():
        found = re.match(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) ([^`]+)`\s*\|(.*)\|\s*$", line)
        if found is None:
            continue
        cells = tuple(c.strip() for c in found.group(3).split("|"))
        key = (found.group(1), found.group(2))
        assert key not in table, f"{key} appears twice in the documented matrix"
        table[key] = cells[:len(ROLES)]
    return table
