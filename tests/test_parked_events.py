"""No single event can stop a view: an event a view cannot apply is parked (a dead letter with
its position and error), the views go on, ``/readyz`` answers 503 listing it and ``/metrics``
counts it; after a fix, ``dialogue-ledger parked retry`` or a rebuild applies it and the views
equal a rebuild. An error of the store (a lost connection) is retried, never parked.

The hostile events are written straight into the store, past the domain's checks, as an older
version or an importer bug could have written them. Every test runs on SQLite and PostgreSQL
(the ``ledger`` fixture) unless marked ``postgres``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore

from api import examples
from ledger.application import DialogueLedger
from projections import change as change_module
from projections.change import Change
from projections.parked import Parked
from projections.runner import Projector, store_error
from projections.store import Batch, ViewStore
from projections.topics import topic_of
from projections.views.directory import DirectoryView
from tests.api_world import serve
from tests.conftest import Cli
from tests.scenario import World, build_world, start_thread
from tests.test_views_rebuild import MakeProjector, assert_same_views

REGISTERED, PUBLISHED, JOINED = "Person.Registered", "Post.Published", "Membership.Joined"


# --- hostile events, straight into the store --------------------------------------------------
def act(actor: UUID) -> dict[str, Any]:
    return {"actor_id": str(actor), "occurred_at": datetime.now(UTC).isoformat(),
            "command_id": None}


def record_raw(app: DialogueLedger, kind: str, state: dict[str, Any] | bytes,
               originator_id: UUID | None = None) -> int:
    """Store an event as a faulty importer would: no domain object, no checks. Its
    position."""
    data = state if isinstance(state, bytes) else orjson.dumps(state)
    app.recorder.insert_events([StoredEvent(originator_id=originator_id or uuid4(),
                                            originator_version=1, topic=topic_of(kind),
                                            state=data)])
    return app.position


def registration(handle: str, **changes: Any) -> dict[str, Any]:
    person = uuid4()
    state = {"timestamp": datetime.now(UTC).isoformat(),
             "originator_topic": "ledger.domain.person:Person", "handle": handle,
             "display_name": handle.title(), "is_bot": False, "act": act(person), **changes}
    return {k: v for k, v in state.items() if v is not ...}


def reply_state(app: DialogueLedger, opening: UUID, body: str) -> dict[str, Any]:
    """A reply to ``opening``, as its publication would be stored, with ``body``."""
    published = next(n for n in app.recorder.select_notifications(1, 10_000)
                     if n.topic == topic_of(PUBLISHED) and n.originator_id == opening)
    state: dict[str, Any] = orjson.loads(published.state)
    return {**state, "parent_id": str(opening), "body": body, "kind": "comment"}


def hostile_events(app: DialogueLedger) -> dict[str, int]:
    """Events the directory view cannot apply, whatever is tried: their positions."""
    return {
        "no display name": record_raw(app, REGISTERED, registration("nameless",
                                                                    display_name=...)),
        "is_bot 'yes'": record_raw(app, REGISTERED, registration("yesbot", is_bot="yes")),
    }


def people(projector: Projector) -> dict[str, str]:
    return {row["handle"]: row["display_name"]
            for row in projector.store("directory").query("SELECT * FROM {prefix}people")}


def where(parked: list[Parked]) -> list[tuple[str, int]]:
    return [(p.view, p.position) for p in parked]


def tolerant_registration(batch: Batch, c: Change) -> None:
    """The fix: a registration without a display name shows the handle; a bot is a bot only
    when it says ``true``."""
    s = c.state
    batch.put("people", {"id": c.id, "handle": s["handle"],
                         "display_name": s.get("display_name", s["handle"]),
                         "is_bot": int(s.get("is_bot") is True),
                         "registered_us": c.occurred_us, "position": c.position})


@pytest.fixture
def fix(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def apply() -> None:
        monkeypatch.setitem(DirectoryView.handlers, REGISTERED, tolerant_registration)

    return apply


@pytest.fixture
def world(ledger: DialogueLedger) -> World:
    return build_world(ledger)


@pytest.fixture
def projectors(ledger: DialogueLedger) -> Iterator[MakeProjector]:
    """Projectors on ``ledger``, each with view tables of its own (dropped at the end)."""
    made: list[Projector] = []

    def make(**options: Any) -> Projector:
        options.setdefault("prefix", f"t{uuid4().hex[:8]}_")
        made.append(Projector(ledger, **options))
        return made[-1]

    yield make
    for projector in made:
        projector.stop()
        for store in projector.stores:
            store.drop_tables()
        projector.parked.drop()


# --- parking ---------------------------------------------------------------------------------
def test_an_event_a_view_cannot_apply_is_parked_and_the_views_go_on(
        ledger: DialogueLedger, world: World, projectors: MakeProjector) -> None:
    live = projectors()
    live.catch_up()
    bad = hostile_events(ledger)
    unreadable = record_raw(ledger, REGISTERED, b'{"handle": "cut short')
    joined_unknown = record_raw(ledger, JOINED, {"roles": ["member"], "via": "invitation",
                                                 "act": act(world.alice)})
    ledger.register_person("dora", "Dora")  # a valid event after them

    assert live.catch_up() == ledger.position
    assert live.position == ledger.position  # every view went past them
    parked = live.parked_events()
    assert where(parked) == [("directory", p) for p in
                             (*bad.values(), unreadable, joined_unknown)]
    errors = {p.position: p.error_class.rpartition(".")[2] for p in parked}
    assert errors == {bad["no display name"]: "KeyError", bad["is_bot 'yes'"]: "ValueError",
                      unreadable: "UnreadableEvent", joined_unknown: "AssertionError"}
    first = parked[0]
    assert first.topic == topic_of(REGISTERED) and first.originator_version == 1
    assert "display_name" in first.error_message
    assert people(live)["dora"] == "Dora"
    assert {"nameless", "yesbot"}.isdisjoint(people(live))

    ledger.register_person("emil", "Emil")  # followed live, as usual, after the parking
    assert live.catch_up() == ledger.position
    assert "emil" in people(live)
    assert len(live.parked_events()) == 4  # each parked once


def test_a_projector_following_the_ledger_parks_the_event_and_reaches_the_head(
        ledger: DialogueLedger, world: World, projectors: MakeProjector) -> None:
    """Issue 14: the follower retried such an event for ever, and every view stayed there."""
    live = projectors()
    with live:
        bad = hostile_events(ledger)
        ledger.register_person("dora", "Dora")
        assert live.wait(ledger.position, 10), live.last_error
        assert live.last_error is None
    assert where(live.parked_events()) == [("directory", p) for p in bad.values()]
    assert "dora" in people(live)


def test_an_event_is_parked_once_however_many_projectors_apply_at_once(
        ledger: DialogueLedger, world: World, projectors: MakeProjector) -> None:
    bad = hostile_events(ledger)
    ledger.register_person("dora", "Dora")
    prefix = f"t{uuid4().hex[:8]}_"
    workers = [projectors(prefix=prefix, batch_size=3) for _ in range(3)]
    failures: list[BaseException] = []

    def follow(projector: Projector) -> None:
        try:
            projector.catch_up()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=follow, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for worker in workers:
        worker.refresh()
        assert worker.position == ledger.position
    assert where(workers[0].parked_events()) == [("directory", p) for p in bad.values()]
    alone = projectors()
    alone.catch_up()
    assert_same_views(alone, workers[0])


def test_a_nul_in_stored_text_reaches_no_view_live_or_rebuilt(
        ledger: DialogueLedger, world: World, projectors: MakeProjector) -> None:
    """NUL cannot be stored in PostgreSQL text and cuts SQLite's JSON strings: the views show
    U+FFFD instead, whether they follow the ledger or are rebuilt in bulk."""
    live = projectors()
    _, opening = start_thread(ledger, world.circle, world.alice)
    record_raw(ledger, REGISTERED, registration("nul\x00x", display_name="N\x00ul"))
    reply = uuid4()
    record_raw(ledger, PUBLISHED, reply_state(ledger, opening, "a\x00b"), originator_id=reply)
    ledger.register_person("dora", "Dora")
    assert live.catch_up() == ledger.position
    assert live.parked_events() == []
    assert people(live)["nul\ufffdx"] == "N\ufffdul"
    [post] = live.store("threads").query("SELECT body FROM {prefix}posts WHERE id = ?",
                                         [str(reply)])
    assert post["body"] == "a\ufffdb"
    for size in (4, 10_000):  # the NUL in a range of its own, and in the whole log
        rebuilt = projectors(rebuild_batch_size=size)
        assert rebuilt.rebuild() == ledger.position
        assert rebuilt.parked_events() == []
        assert_same_views(live, rebuilt)


@pytest.mark.postgres
def test_postgres_views_that_receive_a_nul_park_it_and_a_retry_after_the_fix_applies_it(
        postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14's frozen views: without the views' own tolerance, PostgreSQL refuses the NUL;
    the event is parked (not retried for ever), and applied once the views take it."""
    app = DialogueLedger(postgres_env)
    try:
        build_world(app)
        live = Projector(app, prefix="nul_")
        live.catch_up()
        with monkeypatch.context() as patch:  # views that pass the NUL on
            patch.setattr(change_module, "without_nul", lambda value: value)
            nul = record_raw(app, REGISTERED, registration("nul\x00x"))
            app.register_person("dora", "Dora")
            assert live.catch_up() == app.position
            [parked] = live.parked_events()
            assert (parked.view, parked.position) == ("directory", nul)
            assert parked.error_class.endswith("DataError"), parked
            assert "NUL" in parked.error_message
            assert "dora" in people(live)
        assert live.retry_parked() == ([parked], [])  # the fix: the views' tolerance
        assert live.parked_events() == []
        rebuilt = Projector(app, prefix="nul_rebuilt_")
        rebuilt.rebuild()
        assert_same_views(live, rebuilt)
    finally:
        app.close()


def test_a_text_too_long_for_an_index_parks_its_event(
        ledger: DialogueLedger, world: World, projectors: MakeProjector) -> None:
    """A handle of 100,000 random characters: PostgreSQL cannot index it (program limit
    exceeded, an OperationalError that is no fault of the connection), SQLite can."""
    live = projectors()
    handle = secrets.token_hex(50_000)
    long = record_raw(ledger, REGISTERED, registration(handle))
    ledger.register_person("dora", "Dora")
    assert live.catch_up() == ledger.position
    postgres = isinstance(ledger.recorder.datastore,  # type: ignore[attr-defined]
                          PostgresDatastore)
    parked = live.parked_events()
    assert where(parked) == ([("directory", long)] if postgres else [])
    assert (handle in people(live)) is not postgres
    assert "dora" in people(live)


def test_the_store_s_errors_are_told_from_an_event_s() -> None:
    def from_postgres(error: psycopg.Error) -> OperationalError:
        try:
            raise OperationalError(str(error)) from error
        except OperationalError as wrapped:
            return wrapped

    assert store_error(OperationalError("database is locked"))
    assert store_error(from_postgres(psycopg.errors.AdminShutdown()))
    assert store_error(from_postgres(psycopg.errors.SerializationFailure()))
    assert store_error(from_postgres(psycopg.OperationalError("connection is closed")))
    assert not store_error(from_postgres(psycopg.errors.ProgramLimitExceeded()))
    assert not store_error(psycopg.errors.UntranslatableCharacter())
    assert not store_error(KeyError("display_name"))


# --- after a fix -----------------------------------------------------------------------------
def test_after_a_fix_a_retry_applies_the_parked_events_and_the_views_equal_a_rebuild(
        ledger: DialogueLedger, world: World, projectors: MakeProjector,
        fix: Callable[[], None]) -> None:
    live = projectors()
    bad = hostile_events(ledger)
    unreadable = record_raw(ledger, REGISTERED, b"\xff\xfe not json")
    ledger.register_person("dora", "Dora")
    live.catch_up()
    assert len(live.parked_events()) == 3

    applied, failing = live.retry_parked()  # no fix yet: nothing changes
    assert (applied, len(failing)) == ([], 3)
    assert where(live.parked_events()) == where(failing)
    assert [p.error_class.rpartition(".")[2] for p in failing] == [
        "KeyError", "ValueError", "UnreadableEvent"]

    fix()
    applied, failing = live.retry_parked()
    assert where(applied) == [("directory", p) for p in bad.values()]
    assert where(failing) == [("directory", unreadable)]  # no fix makes it readable
    assert where(live.parked_events()) == [("directory", unreadable)]
    assert people(live)["nameless"] == "nameless"
    rebuilt = projectors()
    rebuilt.rebuild()
    assert where(rebuilt.parked_events()) == [("directory", unreadable)]
    assert_same_views(live, rebuilt)


def test_a_rebuild_parks_only_the_events_that_still_fail(
        ledger: DialogueLedger, world: World, projectors: MakeProjector,
        fix: Callable[[], None]) -> None:
    live = projectors(rebuild_batch_size=5)
    bad = hostile_events(ledger)
    ledger.register_person("dora", "Dora")
    live.catch_up()
    assert live.rebuild() == ledger.position  # not fixed: parked again
    assert where(live.parked_events()) == [("directory", p) for p in bad.values()]
    fix()
    live.rebuild()
    assert live.parked_events() == []
    assert people(live)["nameless"] == "nameless"
    other = projectors()
    other.catch_up()
    assert_same_views(other, live)


def test_a_blue_green_rebuild_after_a_fix_starts_a_generation_without_parked_events(
        ledger: DialogueLedger, world: World, fix: Callable[[], None]) -> None:
    live = Projector(ledger)  # the live generation
    hostile_events(ledger)
    live.catch_up()
    assert len(live.parked_events()) == 2
    fix()
    live.rebuild_blue_green()
    assert live.generation == 1
    assert live.parked_events() == []
    assert Projector(ledger).parked_events() == []  # as every process sees it


# --- the store's errors are retried ------------------------------------------------------------
def test_an_error_of_the_store_is_retried_and_nothing_is_parked(
        ledger: DialogueLedger, world: World, projectors: MakeProjector,
        monkeypatch: pytest.MonkeyPatch) -> None:
    live = projectors()
    apply_in = ViewStore.apply_in
    faults = {"left": 1}

    def flaky(self: ViewStore, cursor: Any, changes: Any, up_to: int) -> None:
        if faults["left"] and self.view.name == "directory":
            faults["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        apply_in(self, cursor, changes, up_to)

    monkeypatch.setattr(ViewStore, "apply_in", flaky)
    with pytest.raises(OperationalError):  # not parked: the batch fails whole
        live.catch_up()
    assert live.position == 0 and live.parked_events() == []
    faults["left"] = 1
    with live:  # the follower retries it
        ledger.register_person("dora", "Dora")
        assert live.wait(ledger.position, 10), live.last_error
    assert faults["left"] == 0
    assert live.parked_events() == [] and "dora" in people(live)


def test_an_event_that_fails_once_is_applied_when_tried_again_not_parked(
        ledger: DialogueLedger, world: World, projectors: MakeProjector,
        monkeypatch: pytest.MonkeyPatch) -> None:
    live = projectors()
    dora = ledger.register_person("dora", "Dora").position
    faults = {"left": 2}  # the batch, then the event alone: the third try succeeds
    registered = DirectoryView.handlers[REGISTERED]

    def flaky(batch: Batch, c: Change) -> None:
        if c.position == dora and faults["left"]:
            faults["left"] -= 1
            raise RuntimeError("a passing fault")
        registered(batch, c)

    monkeypatch.setitem(DirectoryView.handlers, REGISTERED, flaky)
    assert live.catch_up() == ledger.position
    assert faults["left"] == 0
    assert live.parked_events() == [] and "dora" in people(live)


# --- what operators see ------------------------------------------------------------------------
@pytest.fixture
def parked_store(store_env: dict[str, str]) -> Iterator[tuple[dict[str, str], dict[str, int]]]:
    """A store whose live views parked two events (applied by a projector of its own, as
    ``dialogue-ledger project`` would)."""
    app = DialogueLedger(store_env)
    try:
        build_world(app)
        bad = hostile_events(app)
        app.register_person("dora", "Dora")
        Projector(app).catch_up()
        yield store_env, bad
    finally:
        app.close()


def test_readyz_answers_503_listing_the_parked_events_and_metrics_count_them(
        parked_store: tuple[dict[str, str], dict[str, int]], cli: Cli,
        fix: Callable[[], None]) -> None:
    env, bad = parked_store
    with serve(env, follow=False, commands="inline") as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable" and body["parked_count"] == 2
        assert [(p["view"], p["position"]) for p in body["parked"]] == [
            ("directory", p) for p in bad.values()]
        assert body["projection_lag"] == 0
        assert body.keys() == examples.PARKED.keys()  # as documented
        assert body["parked"][0].keys() == examples.PARKED["parked"][0].keys()
        metrics = client.get("/metrics").text
        assert "dialogue_ledger_projection_parked_events 2.0" in metrics

        code, out, _ = cli("parked")
        assert code == 0 and "2 events parked." in out
        assert f"directory position {bad['no display name']}" in out
        code, out, _ = cli("parked", "retry")  # not fixed yet
        assert code == 1 and "0 parked events applied, 2 still failing." in out

        fix()
        code, out, _ = cli("parked", "retry")
        assert code == 0 and "2 parked events applied, 0 still failing." in out
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert "dialogue_ledger_projection_parked_events 0.0" in client.get("/metrics").text

