"""Processes stop cleanly (issue 14): ``serve`` (with its command process) and ``project``, as
real subprocesses, get SIGTERM or SIGINT once or twice at a few moments (as soon as they can
take a signal, under a load of writes, while a test holds the store's write lock): each exits
with status 0 within its grace period, and every command that was acknowledged (2xx) is in
the store afterwards.

"As soon as they can take a signal" is when the process catches SIGTERM (``SigCgt`` in
``/proc/PID/status``): before the interpreter has run the program's first lines, a SIGTERM
ends any Python process by default, which no program can change.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from psycopg import sql

from ledger.application import DialogueLedger
from tests.conftest import PG, pg_connect, postgres_available
from tests.test_scale_out import (
    HOST,
    Proc,
    World,
    _free_port,
    _process_env,
    client,
    prepare,
    processes,
    recorded,
)

#: The grace period every long-running process must stop within.
GRACE = 10.0
#: (moment, signal, how many times): each moment gets both signals, once and twice.
STOPS = [
    ("start", signal.SIGTERM, 1), ("start", signal.SIGINT, 2),
    ("load", signal.SIGTERM, 2), ("load", signal.SIGINT, 1),
    ("locked", signal.SIGTERM, 1), ("locked", signal.SIGINT, 2),
]


def _stop_id(stop: tuple[str, signal.Signals, int]) -> str:
    return f"{stop[0]}-{stop[1].name}-x{stop[2]}"


@dataclass(frozen=True)
class Store:
    env: dict[str, str]
    world: World


@pytest.fixture(scope="module", name="sqlite_template")
def sqlite_template_fixture(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("procs") / "template.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    return Store(env, prepare(env))


@pytest.fixture(scope="module", name="pg_store")
def pg_store_fixture() -> Iterator[Store]:
    postgres_available()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG, "POSTGRES_SCHEMA": schema}
    try:
        yield Store(env, prepare(env))
    finally:
        with pg_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(name="store", params=["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The prepared world: a private copy of the SQLite template, or the module's schema
    (the tests' keys are unique, so they do not depend on each other's writes)."""
    if request.param == "postgres":
        found: Store = request.getfixturevalue("pg_store")
        return found
    template: Store = request.getfixturevalue("sqlite_template")
    source = Path(template.env["SQLITE_DBNAME"])
    target = tmp_path / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(str(source) + suffix).exists():
            shutil.copyfile(str(source) + suffix, str(target) + suffix)
    return Store({**template.env, "SQLITE_DBNAME": str(target)}, template.world)


@contextmanager
def write_locked(env: dict[str, str]) -> Iterator[None]:
    """The store's write lock, held by this test: ``BEGIN IMMEDIATE`` on SQLite, the events
    table locked in EXCLUSIVE mode on PostgreSQL (as a stuck writer would)."""
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        lite = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield
        finally:
            lite.rollback()
            lite.close()
        return
    holder = pg_connect()
    try:
        holder.autocommit = False
        holder.execute(sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
            sql.Identifier(env["POSTGRES_SCHEMA"]), sql.Identifier("dialogueledger_events")))
        yield
    finally:
        holder.rollback()
        holder.close()


def catches_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def wait_catching(proc: Proc) -> None:
    assert proc.process is not None
    for _ in range(600):
        if catches_sigterm(proc.process.pid) or proc.process.poll() is not None:
            return
        time.sleep(0.01)
    raise AssertionError(f"{proc.name} never caught SIGTERM: {proc.tail()}")


class Writers:
    """Client threads replying with unique Idempotency-Keys until told to stop or the
    server has gone; ``acknowledged`` holds every key answered 2xx."""

    def __init__(self, url: str, world: World, prefix: str, threads: int = 3) -> None:
        self.url, self.world, self.prefix = url, world, prefix
        self.acknowledged: list[str] = []
        self.answers: list[int] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(n,), daemon=True)
                        for n in range(threads)]

    def start(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, acknowledged: int, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < acknowledged and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.acknowledged) >= acknowledged, self.answers

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _write(self, n: int) -> None:
        voter = ("ruth", "jonas", "priya")[n % 3]
        with client(self.url, self.world.tokens[voter], timeout=30) as http:
            for i in range(10_000):
                if self.stopping.is_set():
                    return
                key = f"{self.prefix}-{n}-{i}"
                try:
                    answer = http.post(f"/posts/{self.world.parent}/replies",
                                       json={"body": f"reply {key}"},
                                       headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue  # the server is stopping, or gone: keep trying until told
                self.answers.append(answer.status_code)
                if 200 <= answer.status_code < 300:
                    self.acknowledged.append(key)


def stop_and_time(proc: Proc, sig: signal.Signals, times: int) -> tuple[int, float]:
    """Send ``sig`` ``times`` times (0.1 s apart); the exit status and the seconds from the
    first signal to the exit (the process is killed past the grace period)."""
    assert proc.process is not None
    began = time.monotonic()
    for n in range(times):
        if n:
            time.sleep(0.1)
        if proc.process.poll() is None:
            proc.process.send_signal(sig)
    try:
        status = proc.process.wait(timeout=GRACE + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"{proc.name} did not exit: {proc.tail()}") from None
    return status, time.monotonic() - began


def assert_acknowledged_recorded(env: dict[str, str], acknowledged: list[str]) -> None:
    app = DialogueLedger(env)
    try:
        found = recorded(app)
    finally:
        app.close()
    lost = [key for key in acknowledged if found[key]["Post.Published"] != 1]
    assert not lost, f"acknowledged but not recorded once: {lost}"


@pytest.mark.parametrize("stop", STOPS, ids=_stop_id)
def test_serve_exits_0_within_its_grace_period_and_loses_nothing_acknowledged(
        store: Store, tmp_path: Path, stop: tuple[str, signal.Signals, int]) -> None:
    moment, sig, times = stop
    prefix = f"serve-{_stop_id(stop)}-{uuid.uuid4().hex[:6]}"
    with processes() as started:
        port = _free_port()
        proc = Proc("api", ["serve", "--host", HOST, "--port", str(port), "--log-level",
                            "warning"], _process_env(store.env), tmp_path / "api.log", port)
        started.append(proc)
        writers: Writers | None = None
        if moment == "start":
            proc.start(wait=False)
            wait_catching(proc)
            status, took = stop_and_time(proc, sig, times)
        else:
            proc.start()
            writers = Writers(proc.url, store.world, prefix).start()
            writers.wait_for(5)
            if moment == "locked":
                with write_locked(store.env):
                    time.sleep(0.3)  # commands are now waiting for the lock
                    status, took = stop_and_time(proc, sig, times)
            else:
                status, took = stop_and_time(proc, sig, times)
            writers.stop()
        log = proc.tail()
    assert status == 0, log
    assert took < GRACE, (took, log)
    assert "Traceback" not in log, log
    if writers is not None:
        assert 500 not in writers.answers  # a command cut short by the stop answers 503
        assert_acknowledged_recorded(store.env, writers.acknowledged)


@pytest.mark.parametrize("stop", STOPS, ids=_stop_id)
def test_project_exits_0_within_its_grace_period(
        store: Store, tmp_path: Path, stop: tuple[str, signal.Signals, int]) -> None:
    moment, sig, times = stop
    with processes() as started:
        proc = Proc("worker", ["project", "--poll-interval", "0.1"], _process_env(store.env),
                    tmp_path / "worker.log")
        started.append(proc)
        proc.start()
        wait_catching(proc)
        if moment == "start":
            status, took = stop_and_time(proc, sig, times)
        else:
            app = DialogueLedger(store.env)
            try:
                for i in range(20):  # events for the worker to apply
                    app.reply(store.world.parent, f"project load {i}",
                              actor_id=store.world.people["ruth"])
            finally:
                app.close()
            if moment == "locked":
                with write_locked(store.env):
                    time.sleep(0.3)
                    status, took = stop_and_time(proc, sig, times)
            else:
                status, took = stop_and_time(proc, sig, times)
        log = proc.tail()
    assert status == 0, log
    assert took < GRACE, (took, log)
    assert "Traceback" not in log, log
