"""Views rebuilt from the event log equal the views kept live, table by table; a batch is
applied exactly once; gaps in the notification ids are harmless.

Every test runs on SQLite and on PostgreSQL (the ``ledger`` fixture). Each projector gets a
prefix of its own and its tables are dropped afterwards.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from ledger.application import DialogueLedger
from ledger.demo import StoryClock, record_demo
from ledger.domain import (
    Access,
    Action,
    AdmissionRule,
    AppealOutcome,
    Choice,
    PostKind,
    ReasonCode,
    Role,
)
from ledger.domain.base import debate_thread_id, opening_post_id
from projections import prefetch
from projections.change import Change, to_us
from projections.queries import ViewReader
from projections.runner import Projector, plan
from projections.tables import Dialect
from projections.views.threads import ThreadsView
from projections.views.threads_bulk import time_us
from tests.conftest import pg_connect
from tests.scenario import build_world, person, start_thread

Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(projector: Projector) -> Snapshot:
    """Every row of every table of every view, ``SELECT * ... ORDER BY <key>``."""
    tables: Snapshot = {}
    for store in projector.stores:
        for table in store.view.tables:
            tables[f"{store.view.name}.{table.name}"] = store.query(
                f"SELECT * FROM {{prefix}}{table.name} ORDER BY {', '.join(table.key)}")
    return tables


def assert_same_views(live: Projector, rebuilt: Projector) -> None:
    assert rebuilt.position == live.position
    expected, actual = snapshot(live), snapshot(rebuilt)
    assert sorted(actual) == sorted(expected)
    for name, rows in expected.items():
        other = actual[name]
        for index, (want, got) in enumerate(zip(rows, other, strict=False)):
            assert got == want, f"{name}: row {index} differs"
        assert len(other) == len(rows), f"{name}: {len(other)} rows rebuilt, {len(rows)} live"


MakeProjector = Callable[..., Projector]


@pytest.fixture
def projectors(ledger: DialogueLedger) -> Iterator[MakeProjector]:
    """Make projectors on ``ledger`` (or another app), each with a prefix of its own; their
    tables are dropped at the end."""
    made: list[Projector] = []

    def make(app: DialogueLedger | None = None, **options: Any) -> Projector:
        options.setdefault("prefix", f"t{uuid4().hex[:8]}_")
        projector = Projector(app or ledger, **options)
        made.append(projector)
        return projector

    yield make
    for projector in made:
        projector.stop()
        for store in projector.stores:
            store.drop_tables()


# --- a rebuild equals the live views ---------------------------------------------------------
def more_dialogue(app: DialogueLedger, story: StoryClock, people: dict[str, UUID],
                  community: UUID) -> None:
    """Commands beyond the demo, touching every view (some with command ids, whose command
    records no view reads: gaps in what the views see)."""
    p = people
    maya, tom, lena, bea = p["maya"], p["tom"], p["lena"], p["bea"]
    story.advance(days=1)
    thread = app.open_thread(community, PostKind.QUESTION, "Winter tariffs",
                             "Will the winter tariff be capped?", actor_id=p["priya"],
                             command_id="extra-thread").id
    opening = opening_post_id(thread)
    story.advance(hours=2)
    answer = app.reply(opening, "We will publish the cap next week.", actor_id=tom).id
    app.acknowledge_post(opening, actor_id=maya)
    app.acknowledge_post(opening, actor_id=tom)
    story.advance(minutes=30)
    follow = app.reply(answer, "Next week when exactly?", actor_id=p["jonas"]).id
    app.edit_post(follow, "Which day next week?", actor_id=p["jonas"], command_id="extra-edit")
    rant = app.reply(opening, "Caps never help anyone.", actor_id=p["omar"]).id
    app.retract_post(rant, actor_id=p["omar"])
    spam = app.reply(follow, "Cheap heat pumps, DM me", actor_id=p["dmitri"]).id
    hidden = app.moderate(community, Action.HIDE_POST, ReasonCode.SPAM, "Advertising",
                          post_ids=[spam], actor_id=bea).id
    app.lodge_appeal(hidden, "It was a real offer for members", actor_id=p["dmitri"])
    app.decide_appeal(hidden, AppealOutcome.UPHELD, "Still advertising", actor_id=lena)
    removed = app.moderate(community, Action.REMOVE_POST, ReasonCode.OFF_TOPIC, "Off topic",
                           post_ids=[follow], actor_id=lena).id
    app.notify_author(removed, "Your post was removed as off topic.", actor_id=lena)
    app.lodge_appeal(removed, "It asks about the thread's subject", actor_id=p["jonas"])
    story.advance(hours=5)
    app.decide_appeal(removed, AppealOutcome.REVERSED, "It is on topic", actor_id=bea)
    suspension = app.moderate(community, Action.SUSPEND_MEMBER, ReasonCode.HARASSMENT,
                              "Personal attacks", member_id=p["felix"], actor_id=bea).id
    app.lodge_appeal(suspension, "I apologised", actor_id=p["felix"])
    app.decide_appeal(suspension, AppealOutcome.REVERSED, "Apology accepted", actor_id=lena)
    locked = app.moderate(community, Action.LOCK_THREAD, ReasonCode.OTHER, "Answered",
                          thread_id=thread, actor_id=lena).id
    app.notify_author(locked, "Locked as answered.", actor_id=lena)
    commitment = app.make_commitment(community, [opening, answer], "Publish the winter cap",
                                     due_on=date(2026, 12, 1), actor_id=maya,
                                     command_id="extra-commitment").id
    app.record_progress(commitment, "Draft with the regulator", actor_id=tom)
    app.abandon_commitment(commitment, "The regulator set the cap instead", actor_id=maya)
    # Gail was not decided in time; she is nominated again, and admitted.
    story.advance(days=1)
    nomination = app.nominate(community, p["gail"], "Gail, again: she sees both sides.",
                              actor_id=p["ruth"]).id
    app.reply(opening_post_id(debate_thread_id(nomination)), "Yes, this time.",
              actor_id=p["omar"])
    for handle, choice in (("ruth", Choice.ADMIT), ("omar", Choice.DECLINE),
                           ("sofia", Choice.ADMIT), ("maya", Choice.ADMIT),
                           ("kenji", Choice.ADMIT)):
        app.cast_vote(nomination, choice, f"{handle} has thought about it",
                      actor_id=p[handle])
    app.change_vote(nomination, Choice.ADMIT, "convinced by the debate", actor_id=p["omar"])
    app.decide_nomination(nomination, actor_id=p["ruth"], command_id="extra-decide")
    app.accept_invitation(community, actor_id=p["gail"])
    # Memberships, roles, the rule, another organisation representative, an open community.
    app.leave_community(community, actor_id=p["kenji"])
    app.revoke_role(community, bea, Role.MODERATOR, actor_id=maya)
    app.grant_role(community, p["noor"], Role.MODERATOR, actor_id=maya)
    app.change_admission_rule(community, AdmissionRule(quorum=5, threshold=0.5,
                                                       min_community_votes=3),
                              actor_id=maya)
    zoe = person(app, "zoe")
    organisation = app.organisation_id("northwind")
    app.appoint_representative(organisation, zoe, actor_id=maya)
    plaza = app.create_community(organisation, "Northwind Plaza", "plaza", access=Access.OPEN,
                                 actor_id=zoe).id
    app.join_community(plaza, actor_id=p["amara"])
    app.join_community(plaza, actor_id=p["vince"])
    app.grant_role(plaza, p["amara"], Role.MODERATOR, actor_id=zoe)


def test_a_rebuild_from_scratch_equals_the_views_kept_live(
        ledger: DialogueLedger, projectors: MakeProjector) -> None:
    app = ledger  # a fresh DialogueLedger on the test's store; the demo sets its clock
    live = projectors()
    story = StoryClock()
    with live:  # the whole story is followed live, command by command
        summary = record_demo(app, clock=story)
        more_dialogue(app, story, summary.people, summary.community_id)
        assert live.wait(app.position, 10), live.last_error
    assert live.position == app.position

    rebuilt = projectors(prefix=f"rebuilt{uuid4().hex[:6]}_")  # one batch, from nothing
    assert rebuilt.position == 0
    assert rebuilt.rebuild() == app.position
    assert_same_views(live, rebuilt)
    tables = snapshot(live)
    assert all(tables.values()), [name for name, rows in tables.items() if not rows]

    # Many small batches: a post is edited, acknowledged or moderated, and a thread gets
    # posts, in a later batch than the one that made it.
    for size in (1, 3, 7):
        small = projectors(batch_size=size, rebuild_batch_size=size)
        small.rebuild()
        assert_same_views(live, small)
    small.rebuild(["threads", "moderation"])  # some views only
    assert_same_views(live, small)

    # The readers answer the same from either set of tables.
    community = summary.community_id
    for read in (lambda r: r.communities(), lambda r: r.roster(community),
                 lambda r: r.nominations(community),
                 lambda r: r.threads(community, limit=1_000),
                 lambda r: r.moderation_log(community),
                 lambda r: r.commitments(community, today=date(2026, 11, 1))):
        assert read(ViewReader(rebuilt)) == read(ViewReader(live))


# --- decoding ahead ----------------------------------------------------------------------
@pytest.fixture
def told_story(ledger: DialogueLedger, projectors: MakeProjector) -> Projector:
    """The demo and more, followed live by the projector returned."""
    live = projectors()
    story = StoryClock()
    with live:
        summary = record_demo(ledger, clock=story)
        more_dialogue(ledger, story, summary.people, summary.community_id)
        assert live.wait(ledger.position, 10), live.last_error
    return live


@pytest.fixture
def scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder where this test's SQLite scratch files go (empty at first)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def scratch_left(ledger: DialogueLedger, folder: Path) -> list[str]:
    """Scratch tables (PostgreSQL) and scratch files (SQLite) a rebuild left behind."""
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    if isinstance(datastore, PostgresDatastore):
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND "
                           "tablename LIKE 'bulk%%'", (datastore.schema,))
            return [row["tablename"] for row in cursor.fetchall()]
    return [str(path) for path in folder.rglob("*")]


def test_a_rebuild_decoding_ahead_equals_the_views_kept_live_and_leaves_no_scratch(
        ledger: DialogueLedger, told_story: Projector, projectors: MakeProjector,
        scratch_folder: Path) -> None:
    folder = scratch_folder
    ahead = projectors(rebuild_batch_size=16)
    assert ahead.rebuild() == ledger.position
    assert ahead.decoded_ahead == len(plan(ledger.position, 16)) > 2
    assert_same_views(told_story, ahead)
    assert scratch_left(ledger, folder) == []

    alone = projectors(rebuild_batch_size=16, prefetch=False)
    alone.rebuild()
    assert alone.decoded_ahead == 0
    assert_same_views(told_story, alone)


def test_a_rebuild_whose_decoding_ahead_fails_decodes_the_rest_itself(
        ledger: DialogueLedger, told_story: Projector, projectors: MakeProjector,
        scratch_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = scratch_folder
    failing_start = plan(ledger.position, 16)[3][0]  # the fourth range cannot be decoded
    for decoder in (prefetch.SQLiteDecoder, prefetch.PostgresDecoder):
        extract = decoder.extract

        def failing(self: Any, bulks: Any, start: int, stop: int,
                    extract: Any = extract) -> prefetch.Extracted:
            if start == failing_start:
                raise RuntimeError("the decoder's connection was lost")
            return extract(self, bulks, start, stop)  # type: ignore[no-any-return]

        monkeypatch.setattr(decoder, "extract", failing)
    rebuilt = projectors(rebuild_batch_size=16)
    assert rebuilt.rebuild() == ledger.position
    assert rebuilt.decoded_ahead == 3
    assert_same_views(told_story, rebuilt)
    assert scratch_left(ledger, folder) == []


def test_a_sqlite_worker_that_cannot_decode_is_reported_and_the_rebuild_goes_on(
        tmp_path: Path) -> None:
    decoder = prefetch.SQLiteDecoder(str(tmp_path / "missing" / "no.db"), 1.0)
    bulk = ThreadsView.bulk(Dialect.SQLITE, "stored_events", "x_")
    assert bulk is not None
    with pytest.raises(RuntimeError, match="decoding positions 1 to 5"):
        decoder.extract([bulk], 1, 5)
    decoder.close()
    assert not decoder.folder.exists()


def test_a_sqlite_rebuild_that_cannot_start_its_decoding_process_decodes_every_range(
        sqlite_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert_rebuilt_without_decoding_ahead(sqlite_env)


def test_an_in_memory_sqlite_ledger_rebuilds_without_decoding_ahead() -> None:
    assert_rebuilt_without_decoding_ahead({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                           "SQLITE_DBNAME": ":memory:"})


def assert_rebuilt_without_decoding_ahead(env: dict[str, str]) -> None:
    """A rebuild in ranges of 4 over a few threads equals the live views, with no range
    decoded ahead."""
    app = DialogueLedger(env)
    try:
        world = build_world(app)
        for i in range(6):
            start_thread(app, world.circle, world.alice, f"Thread {i}")
        live = Projector(app)
        live.catch_up()
        rebuilt = Projector(app, prefix="rebuilt_", rebuild_batch_size=4)
        assert rebuilt.rebuild() == app.position
        assert rebuilt.decoded_ahead == 0
        assert_same_views(live, rebuilt)
    finally:
        app.close()


@pytest.mark.parametrize(("head", "step"), [(0, 5), (1, 1), (7, 3), (10, 1), (100_074, 25_000),
                                            (50, 200)])
def test_a_rebuild_plan_covers_every_position_once_with_a_short_first_and_last_range(
        head: int, step: int) -> None:
    ranges = plan(head, step)
    covered = [p for start, stop in ranges for p in range(start, stop + 1)]
    assert covered == list(range(1, head + 1))
    sizes = [stop - start + 1 for start, stop in ranges]
    assert all(0 < size <= step for size in sizes)
    if len(sizes) > 2:
        assert sizes[0] <= max(1, step // 4) and sizes[-1] <= max(1, step // 4)


# --- exactly once ----------------------------------------------------------------------------
def test_the_same_batch_cannot_be_applied_twice(ledger: DialogueLedger,
                                                projectors: MakeProjector) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    ledger.reply(opening, "Staffing", actor_id=world.rep)
    ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.SPAM, "Spam",
                    post_ids=[opening], actor_id=world.community_moderator)
    nomination = ledger.nominate(world.circle, world.outsider, "Welcome them",
                                 actor_id=world.alice).id
    ledger.cast_vote(nomination, Choice.ADMIT, "yes", actor_id=world.bob)
    ledger.make_commitment(world.circle, [opening], "Open later", actor_id=world.rep)
    head = ledger.position

    projector = projectors()
    for store in projector.stores:
        topics = store.view.topics()
        changes = [Change.from_notification(n) for n in ledger.recorder.select_notifications(
            start=1, limit=10_000, topics=topics)]
        assert changes, store.view.name
        store.apply(changes, head)
        assert store.position() == head
        once = snapshot_of(store)
        with pytest.raises(IntegrityError):
            store.apply(changes, head)  # the same batch again
        with pytest.raises(IntegrityError):
            store.apply(changes[-1:], head - 1)  # an older position
        assert store.position() == head
        assert snapshot_of(store) == once, store.view.name


def snapshot_of(store: Any) -> Snapshot:
    return {table.name: store.query(
        f"SELECT * FROM {{prefix}}{table.name} ORDER BY {', '.join(table.key)}")
        for table in store.view.tables}


# --- gaps --------------------------------------------------------------------------------------
def leave_a_gap(ledger: DialogueLedger, store_env: dict[str, str]) -> None:
    """Make the next event's notification id skip some ids, without deleting anything.

    PostgreSQL: an insert into the events table in a transaction that is rolled back uses up
    a value of the ``bigserial`` sequence, as a failed command would. SQLite numbers events by
    rowid (the largest plus one), so a rolled-back insert leaves no gap; there the gap is made
    by recording a command record (which no view reads) at an explicit rowid further on.
    """
    table = ledger.recorder.events_table_name
    if store_env["PERSISTENCE_MODULE"].endswith("postgres"):
        statement = SQL("INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
                        "VALUES (%s, 1, %s, %s)").format(
            Identifier(store_env["POSTGRES_SCHEMA"]), Identifier(table))
        with pg_connect() as conn:
            for _ in range(3):
                with conn.transaction(force_rollback=True):
                    conn.execute(statement, (uuid4(), "rolled:Back", b"{}"))
        return
    record = next(n for n in ledger.recorder.select_notifications(start=1, limit=10_000)
                  if ":CommandRecord." in n.topic)
    head = ledger.position
    with ledger.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"INSERT INTO {table} (rowid, originator_id, originator_version, "
                       "topic, state) VALUES (?, ?, 1, ?, ?)",
                       (head + 4, uuid4().hex, record.topic, record.state))


def test_gaps_in_the_notification_ids_are_harmless(ledger: DialogueLedger,
                                                    store_env: dict[str, str],
                                                    projectors: MakeProjector) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    ledger.reply(opening, "Before the gap", actor_id=world.bob, command_id="before-gap")
    live = projectors(poll_interval=0.05)
    reader = ViewReader(live)
    with live:
        assert live.wait(ledger.position, 5)
        before = ledger.position
        leave_a_gap(ledger, store_env)
        # A rolled-back insert on SQLite would not have left a gap: rowids are dense.
        receipt = ledger.reply(opening, "After the gap", actor_id=world.carol)
        assert receipt.position > before + 1
        last = ledger.acknowledge_post(receipt.id, actor_id=world.rep,
                                       command_id="after-gap")
        assert live.wait(last.position, 5), live.last_error
        replies = reader.thread(thread_id)["posts"][0]["replies"]
        assert [r["body"] for r in replies] == ["Before the gap", "After the gap"]
        assert replies[1]["acknowledgement_count"] == 1
    ids = [n.id for n in ledger.recorder.select_notifications(start=1, limit=10_000)]
    assert set(range(1, ids[-1] + 1)) - set(ids), "no gap was made"
    assert live.position == ledger.position

    rebuilt = projectors(batch_size=5, rebuild_batch_size=5)
    rebuilt.rebuild()
    assert_same_views(live, rebuilt)


def test_a_rolled_back_insert_leaves_no_gap_on_sqlite(sqlite_env: dict[str, str]) -> None:
    """Why the SQLite gap above is made with an explicit rowid."""
    ledger = DialogueLedger(sqlite_env)
    try:
        ledger.register_person("first", "First")
        connection = sqlite3.connect(sqlite_env["SQLITE_DBNAME"])
        try:
            connection.execute(
                f"INSERT INTO {ledger.recorder.events_table_name} (originator_id, "
                "originator_version, topic, state) VALUES (?, 1, ?, ?)",
                (uuid4().hex, "rolled:Back", b"{}"))
            connection.rollback()
        finally:
            connection.close()
        assert ledger.register_person("second", "Second").position == 2
    finally:
        ledger.close()


def test_ledgers_in_two_postgres_schemas_do_not_share_views(
        postgres_env: dict[str, str]) -> None:
    other_schema = f"t_{uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(other_schema)))
    first = DialogueLedger(postgres_env)
    second = DialogueLedger({**postgres_env, "POSTGRES_SCHEMA": other_schema})
    prefix = f"t{uuid4().hex[:8]}_"
    made: list[Projector] = []
    try:
        founder = first.register_person("founder", "Founder").id
        organisation = first.found_organisation("Alpha", "alpha", actor_id=founder).id
        first.create_community(organisation, "Alpha forum", "alpha-forum",
                               access=Access.OPEN, actor_id=founder)
        made += [Projector(first, prefix=prefix), Projector(second, prefix=prefix)]
        for projector in made:
            projector.catch_up()
        assert [c["slug"] for c in ViewReader(made[0]).communities()] == ["alpha-forum"]
        # The second ledger's store is empty; its views must be too.
        assert ViewReader(made[1]).communities() == []
    finally:
        for projector in made:
            for store in projector.stores:
                store.drop_tables()
        first.close()
        second.close()
        with pg_connect() as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                Identifier(other_schema)))


# --- the bulk rebuild reads times as the handlers do -------------------------------------
@pytest.mark.parametrize("moment", [
    "2026-09-01T10:00:00+00:00", "2026-09-01T10:00:00.000001+00:00",
    "2026-12-31T23:59:59.999999+00:00", "1969-12-31T23:59:59.500000+00:00",
    "1900-02-28T12:00:00.123456+00:00", "0002-01-01T00:00:00+00:00",
    "9989-12-31T23:59:59.999999+00:00"])
def test_the_database_reads_an_event_time_as_the_handlers_do(
        ledger: DialogueLedger, moment: str) -> None:
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    dialect = Dialect.POSTGRES if isinstance(datastore, PostgresDatastore) else Dialect.SQLITE
    expression = time_us(dialect, "t")
    sql = (f"SELECT {expression} AS us FROM (SELECT CAST(? AS TEXT) AS t) AS given"
           if dialect is Dialect.SQLITE else
           f"SELECT {expression} AS us FROM (SELECT CAST(%s AS TEXT) AS t) AS given")
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(sql, (moment,))
        row = cursor.fetchone()
    assert row["us"] == to_us(moment)


# --- two projectors on the same views ----------------------------------------------------
def test_a_projector_that_fell_behind_another_never_applies_its_events_again(
        ledger: DialogueLedger, projectors: MakeProjector) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    prefix = f"t{uuid4().hex[:8]}_"
    first, second = projectors(prefix=prefix), projectors(prefix=prefix)
    assert first.position == second.position
    ledger.reply(opening, "Counted once", actor_id=world.bob)
    ledger.acknowledge_post(opening, actor_id=world.rep)
    first.catch_up()
    ledger.reply(opening, "And this one", actor_id=world.carol)
    # The second still believes the views are where both started: it must not apply the
    # first's events again, only what came after them.
    assert second.position < first.position
    assert second.catch_up() == ledger.position
    assert second.position == ledger.position
    rebuilt = projectors()
    rebuilt.rebuild()
    first.refresh()
    assert_same_views(first, rebuilt)
