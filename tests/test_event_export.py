"""The event log's export to JSON Lines and its import into an empty store.

The round trip keeps every stored byte and every position (gaps included), so sealing the
imported store gives the same checkpoint roots and projecting it gives identical views. Every
store test runs on SQLite and PostgreSQL; one moves a ledger from SQLite to PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import DialogueLedger
from projections.runner import Projector
from replay import seal as sealing
from tests.conftest import PG, Cli, pg_connect, postgres_available

Snapshot = dict[str, list[dict[str, Any]]]


# ===================================================================================
# Fixtures
# ===================================================================================


def fresh_env_like(env: dict[str, str], folder: Path) -> Iterator[dict[str, str]]:
    """Another empty store of the same kind as ``env``."""
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        yield {**env, "SQLITE_DBNAME": str(folder / "imported.db")}
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield {**env, "POSTGRES_SCHEMA": schema}
    finally:
        with pg_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def target_env(store_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from fresh_env_like(store_env, tmp_path)




def snapshot(app: DialogueLedger) -> Snapshot:
    """Every row of every view table, after catching the views up with the ledger."""
    projector = Projector(app)
    projector.catch_up()
    tables: Snapshot = {}
    for store in projector.stores:
        for table in store.view.tables:
            tables[f"{store.view.name}.{table.name}"] = store.query(
                f"SELECT * FROM {{prefix}}{table.name} ORDER BY {', '.join(table.key)}")
    return tables


def stored(app: DialogueLedger) -> list[tuple[int, str, int, str, bytes]]:
    return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
            for n in app.recorder.select_notifications(1, 1_000_000)]


def delete_event(env: dict[str, str], position: int) -> None:
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        con = sqlite3.connect(env["SQLITE_DBNAME"])
        with con:
            con.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        con.close()
    else:
        with pg_connect() as conn:
            conn.execute(f'DELETE FROM "{env["POSTGRES_SCHEMA"]}".dialogueledger_events '
                         "WHERE notification_id = %s", (position,))


# ===================================================================================
# The round trip
# ===================================================================================
def test_export_then_import_gives_the_same_checkpoint_roots_and_identical_views(
        ledger: DialogueLedger, demo_events: list[StoredEvent], cli: Cli,
        target_env: dict[str, str]) -> None:
    ledger.recorder.insert_events(demo_events[:200])
    assert cli("checkpoint", "--out", "early.json")[0] == 0
    ledger.recorder.insert_events(demo_events[200:])
    assert cli("checkpoint", "--out", "late.json")[0] == 0

    code, _, err = cli("export", "events", "--out", "events.jsonl")
    assert code == 0
    assert f"Exported {len(demo_events)} events" in err
    code, out, _ = cli("import", "events", "events.jsonl", "--quiet", env=target_env)
    assert code == 0
    assert f"Imported {len(demo_events)} events (positions 1..{len(demo_events)})" in out

    # The imported store, checkpointed on its own, verifies against the original's
    # checkpoints, which it reproduces root for root.
    code, _, _ = cli("checkpoint", "--out", "imported.json", env=target_env)
    assert code == 0
    late = sealing.Checkpoint.load(cli.folder / "late.json")
    imported = sealing.Checkpoint.load(cli.folder / "imported.json")
    assert (imported.tree_size, imported.root_hash) == (late.tree_size, late.root_hash)
    code, out, _ = cli("verify", "--checkpoint", "early.json", "--checkpoint", "late.json",
                       "--quiet", env=target_env)
    assert code == 0, out

    copy = DialogueLedger(target_env)
    try:
        assert stored(copy) == stored(ledger)
        assert snapshot(copy) == snapshot(ledger)
    finally:
        copy.close()


def test_an_export_from_sqlite_imports_into_postgresql_with_the_same_root(
        demo_events: list[StoredEvent], tmp_path: Path) -> None:
    postgres_available()
    source = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": str(tmp_path / "source.db")})
    pg_env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG}
    targets = fresh_env_like(pg_env, tmp_path)
    target_env = next(targets)
    target = DialogueLedger(target_env)
    try:
        source.recorder.insert_events(demo_events)
        path = tmp_path / "events.jsonl"
        with path.open("wb") as out:
            assert sealing.export_events(source, out) == len(demo_events)
        with path.open("rb") as lines:
            result = sealing.import_events(target, lines)
        assert (result.events, result.first_position) == (len(demo_events), 1)
        assert sealing.seal(target).root_hash == sealing.seal(source).root_hash
        assert stored(target) == stored(source)
    finally:
        source.close()
        target.close()
        next(targets, None)


def test_import_keeps_positions_and_their_gaps(
        ledger: DialogueLedger, demo_events: list[StoredEvent], store_env: dict[str, str],
        target_env: dict[str, str], tmp_path: Path) -> None:
    ledger.recorder.insert_events(demo_events[:30])
    for position in (1, 7, 8, 20, 30):  # the first, a pair, one alone and the last
        delete_event(store_env, position)
    path = tmp_path / "events.jsonl"
    with path.open("wb") as out:
        assert sealing.export_events(ledger, out, batch_size=4) == 25
    target = DialogueLedger(target_env)
    try:
        with path.open("rb") as lines:
            result = sealing.import_events(target, lines, batch_size=3)
        assert (result.events, result.first_position, result.last_position) == (25, 2, 29)
        assert stored(target) == stored(ledger)
        assert sealing.seal(target).root_hash == sealing.seal(ledger).root_hash
        target.register_person("later", "Someone New")  # the store carries on (no claim)
        assert target.position == 30
    finally:
        target.close()


def test_states_that_json_would_not_reproduce_round_trip_byte_for_byte(
        ledger: DialogueLedger, target_env: dict[str, str], tmp_path: Path) -> None:
    odd = [b'{"spaced": 1,  "order": [1.0, 2]}', b"\x00\xffnot json", b"", b'"\\u00e9"']
    ledger.recorder.insert_events([
        StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="odd:Event",
                    state=state) for state in odd])
    ledger.register_person("plain", "Plain JSON")
    path = tmp_path / "events.jsonl"
    with path.open("wb") as out:
        sealing.export_events(ledger, out)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [base64.b64decode(line["state_b64"]) for line in lines[:4]] == odd
    assert lines[4]["state"]["handle"] == "plain"  # canonical JSON is embedded readably
    target = DialogueLedger(target_env)
    try:
        with path.open("rb") as source:
            sealing.import_events(target, source)
        assert stored(target) == stored(ledger)
    finally:
        target.close()


# ===================================================================================
# Refusals and errors
# ===================================================================================
def test_import_refuses_a_store_that_already_holds_events(
        ledger: DialogueLedger, demo_events: list[StoredEvent], cli: Cli) -> None:
    ledger.recorder.insert_events(demo_events[:10])
    assert cli("export", "events", "--out", "events.jsonl", "--quiet")[0] == 0
    code, _, err = cli("import", "events", "events.jsonl")
    assert code == 2
    assert "store-not-empty: the store already holds events (up to position 10)" in err
    assert "importing" not in err  # refused before reading a line
    assert ledger.position == 10


def test_a_malformed_line_is_reported_with_its_number(ledger: DialogueLedger, cli: Cli) -> None:
    good = {"position": 1, "originator_id": str(uuid.uuid4()), "originator_version": 1,
            "topic": "t:E", "state": {"a": 1}}
    (cli.folder / "bad.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "position": 2, "state_b64": "AA=="})
        + "\n")
    code, _, err = cli("import", "events", "bad.jsonl", "--quiet")
    assert code == 2
    assert "line 2: exactly one of state and state_b64 is needed" in err
    code, _, err = cli("import", "events", "missing.jsonl")
    assert code == 2 and "cannot read missing.jsonl" in err


def test_positions_that_do_not_increase_are_refused(ledger: DialogueLedger,
                                                    cli: Cli) -> None:
    line = {"originator_id": str(uuid.uuid4()), "originator_version": 1, "topic": "t:E",
            "state": {}}
    (cli.folder / "bad.jsonl").write_text(
        json.dumps({**line, "position": 5}) + "\n"
        + json.dumps({**line, "position": 5, "originator_version": 2}) + "\n")
    code, _, err = cli("import", "events", "bad.jsonl", "--quiet")
    assert code == 2 and "line 2: position 5 does not follow 5" in err


def test_export_streams_to_stdout_with_a_progress_bar_on_stderr(
        ledger: DialogueLedger, demo_events: list[StoredEvent], cli: Cli) -> None:
    ledger.recorder.insert_events(demo_events[:50])
    code, out, err = cli("export", "events")
    assert code == 0
    lines = out.splitlines()
    assert [json.loads(line)["position"] for line in lines] == list(range(1, 51))
    assert "exporting: 100%" in err and "50/50" in err
