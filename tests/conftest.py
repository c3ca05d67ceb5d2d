"""Stores for the tests: every test that takes ``store`` runs once on a fresh SQLite file and
once on a fresh PostgreSQL schema. In CI (``CI=true``) a missing PostgreSQL server fails the
PostgreSQL runs; elsewhere it skips them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from eventsourcing.persistence import Notification, StoredEvent

from ledger.application import DialogueLedger

PG = {
    "POSTGRES_DBNAME": os.environ.get("TEST_POSTGRES_DBNAME", "test"),
    "POSTGRES_HOST": os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
    "POSTGRES_PORT": os.environ.get("TEST_POSTGRES_PORT", "5432"),
    "POSTGRES_USER": os.environ.get("TEST_POSTGRES_USER", "postgres"),
    "POSTGRES_PASSWORD": os.environ.get("TEST_POSTGRES_PASSWORD", ""),
}


def pg_connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        dbname=PG["POSTGRES_DBNAME"], host=PG["POSTGRES_HOST"], port=PG["POSTGRES_PORT"],
        user=PG["POSTGRES_USER"], password=PG["POSTGRES_PASSWORD"] or None,
        autocommit=True, connect_timeout=5,
    )


def postgres_available() -> None:
    """Skip (or, in CI, fail) when no PostgreSQL server answers."""
    try:
        pg_connect().close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "ledger.db")}


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    postgres_available()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG,
               "POSTGRES_SCHEMA": schema}
    finally:
        with pg_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of a fresh, empty store of each kind."""
    fixture = "sqlite_env" if request.param == "sqlite" else "postgres_env"
    env: dict[str, str] = request.getfixturevalue(fixture)
    return env


class Clock:
    """A settable clock, so that tests and the demo control ``occurred_at``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_ledger(store_env: dict[str, str], clock: Clock) -> Iterator[
        Callable[[], DialogueLedger]]:
    opened: list[DialogueLedger] = []

    def make() -> DialogueLedger:
        app = DialogueLedger(store_env, clock=clock)
        opened.append(app)
        return app

    yield make
    for app in opened:
        app.close()


@pytest.fixture
def ledger(make_ledger: Callable[[], DialogueLedger]) -> DialogueLedger:
    return make_ledger()


class Copies:
    """Second stores of the same kind as the test's ledger, filled with some of its events."""

    def __init__(self, store_env: dict[str, str], folder: Path) -> None:
        self.store_env = store_env
        self.folder = folder
        self.apps: list[DialogueLedger] = []
        self.schemas: list[str] = []

    def __call__(self, app: DialogueLedger, *, stop: int | None = None,
                 until: datetime | None = None) -> DialogueLedger:
        """A copy of ``app``'s ledger with its events up to position ``stop`` or, given
        ``until``, the events that occurred by then."""
        if self.store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with pg_connect() as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            self.schemas.append(schema)
            env = {**self.store_env, "POSTGRES_SCHEMA": schema}
        else:
            env = {**self.store_env,
                   "SQLITE_DBNAME": str(self.folder / f"copy-{len(self.apps)}.db")}
        copy = DialogueLedger(env)
        self.apps.append(copy)
        events = app.recorder.select_notifications(start=1, limit=1_000_000, stop=stop)
        if until is not None:
            events = [n for n in events if occurred_at(n) <= until]
        copy.recorder.insert_events([
            StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                        topic=n.topic, state=n.state) for n in events])
        assert copy.position == len(events)
        return copy

    def close(self) -> None:
        for app in self.apps:
            app.close()
        for schema in self.schemas:
            with pg_connect() as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def occurred_at(notification: Notification) -> datetime:
    return datetime.fromisoformat(orjson.loads(notification.state)["act"]["occurred_at"])


@pytest.fixture
def copies(store_env: dict[str, str], tmp_path: Path) -> Iterator[Copies]:
    made = Copies(store_env, tmp_path)
    yield made
    made.close()


# --- the command line, and the demo's stored events (seal, tamper and export tests) -------
@dataclass
class Cli:
    """``dialogue-ledger`` run in-process, answering (exit code, stdout, stderr)."""

    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    folder: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run ``dialogue-ledger`` (on ``env``'s store, if given)."""
        from ledger.cli import main

        with self.monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            self.capsys.readouterr()
            code = main(list(args))
            out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(store_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    """``dialogue-ledger`` on the test's store, in its own folder with its own signing key."""
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(tmp_path / "signing-key.pem"))
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def demo_events(tmp_path_factory: pytest.TempPathFactory) -> list[StoredEvent]:
    """The demo dialogue's stored events, recorded once per test module."""
    from ledger.demo import record_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(path)})
    try:
        record_demo(app)
        return [StoredEvent(originator_id=n.originator_id,
                            originator_version=n.originator_version, topic=n.topic,
                            state=n.state)
                for n in app.recorder.select_notifications(1, 100_000)]
    finally:
        app.close()
