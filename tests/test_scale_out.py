"""Scale-out on PostgreSQL: API processes and a projection worker as real subprocesses, faults
and concurrency (issue 6).

* **Crash**: two API processes (``serve --projector none``) and a projection worker; client
  threads send replies with unique ``Idempotency-Key``s while API processes and the worker
  are killed (SIGKILL) and restarted at random moments. Every acknowledged command is in the
  ledger exactly once, none is half-recorded, and the caught-up views equal a rebuild.
* **Contention**: 8 clients reply in one thread and vote on one nomination: every accepted
  command appears once, conflicts are retried in the server or answered 409, no 5xx.
* **Idempotency under retries**: the same key sent concurrently and again after a client
  timeout yields one event.
* **Reconnect**: the worker's connections are terminated (``pg_terminate_backend``) while
  commands keep coming; it reconnects, applies every event once and catches up.
* **Lock timeout**: a held table lock makes a command answer 503 with ``Retry-After`` and
  record nothing; after the lock is released the same key succeeds once.

Each test gets a schema of its own (``postgres_env``). Loopback only; every loop is bounded in
count and time; every process is killed in ``finally``. ``SCALE_OUT_SIZE`` (default 1)
multiplies the number of commands and faults for a longer manual run.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from eventsourcing.persistence import PersistenceError
from psycopg import sql

from api.tokens import issue_token
from ledger.application import DialogueLedger
from ledger.demo import COMMUNITY_SLUG, record_demo
from ledger.domain import Nomination, PostKind
from ledger.domain.base import opening_post_id
from projections.runner import Projector
from tests.conftest import pg_connect
from tests.test_views_rebuild import assert_same_views

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SIZE = max(1, int(os.environ.get("SCALE_OUT_SIZE", "1")))
VOTERS = ("ruth", "jonas", "priya", "amara", "felix", "sofia", "kenji", "omar")
BOOT_SECONDS = 45.0


# --- processes ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _process_env(store: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_"))}
    env.update(store)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Proc:
    """A ``dialogue-ledger`` subprocess that can be killed and started again."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log: Path,
                 port: int | None = None) -> None:
        self.name, self.args, self.env, self.log, self.port = name, list(args), env, log, port
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", *self.args], env=self.env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        if wait and self.port is not None:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = BOOT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout * 20)):
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not answer in {timeout} s: {self.tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@contextmanager
def processes() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            try:
                proc.kill()
            except Exception:  # never leave a process behind because another misbehaved
                if proc.process is not None:
                    proc.process.kill()


def api_server(started: list[Proc], store: dict[str, str], folder: Path, name: str,
               projector: str = "none", **extra: str) -> Proc:
    port = _free_port()
    proc = Proc(name, ["serve", "--host", HOST, "--port", str(port), "--projector", projector,
                       "--log-level", "warning"],
                _process_env(store, **extra), folder / f"{name}.log", port)
    started.append(proc)
    proc.start()
    return proc


def projection_worker(started: list[Proc], store: dict[str, str], folder: Path,
                      name: str = "worker") -> Proc:
    proc = Proc(name, ["project", "--poll-interval", "0.1"], _process_env(store),
                folder / f"{name}.log")
    started.append(proc)
    proc.start()
    return proc


# --- the world ---------------------------------------------------------------------------------
@dataclass
class World:
    tokens: dict[str, str]
    people: dict[str, UUID]
    parent: UUID  # the opening post of a thread the clients reply to
    nomination: UUID


def prepare(store: dict[str, str]) -> World:
    """The demo, a token for each voter, a fresh thread and an open nomination; the view
    tables are created here, before any process starts."""
    app = DialogueLedger(store)
    try:
        record_demo(app)
    finally:
        app.close()
    app = DialogueLedger(store)  # the real clock again (the demo ran on a story clock)
    try:
        people = {h: app.person_id(h) for h in (*VOTERS, "maya", "gail")}
        tokens = {h: issue_token(app, h, "member")[0] for h in VOTERS}
        tokens["maya"] = issue_token(app, "maya", "representative")[0]
        community = app.community_id(COMMUNITY_SLUG)
        thread = app.open_thread(community, PostKind.QUESTION, "Scale-out",
                                 "Does the ledger hold under load?",
                                 actor_id=people["maya"]).id
        nomination = app.nominate(community, people["gail"], "Gail again, for the farmers",
                                  actor_id=people["priya"]).id
        Projector(app)  # creates the generations table and the live view tables
        return World(tokens, people, opening_post_id(thread), nomination)
    finally:
        app.close()


def client(url: str, token: str, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout,
                        headers={"Authorization": f"Bearer {token}"})


@dataclass
class Sent:
    key: str
    status: int | None = None  # the final answer; None: never answered
    body: dict[str, Any] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # every answer, retries included
    transport_errors: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(clients: Sequence[httpx.Client], method: str, path: str, payload: dict[str, Any],
         key: str, *, seconds: float = 60.0, attempts: int = 300,
         retry_conflicts: bool = False, first: int = 0) -> Sent:
    """Send a command with an Idempotency-Key, retrying the same key on connection errors,
    timeouts and 503 (and, if asked, on 409 concurrency conflicts), across ``clients``
    (one per API process, starting with ``clients[first]``)."""
    sent = Sent(key)
    deadline = time.monotonic() + seconds
    for attempt in range(attempts):
        if time.monotonic() > deadline:
            break
        try:
            answer = clients[(first + attempt) % len(clients)].request(
                method, path, json=payload, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            sent.transport_errors += 1
            time.sleep(min(0.02 * (attempt + 1), 0.5))
            continue
        sent.statuses.append(answer.status_code)
        conflict = answer.status_code == 409 and answer.json().get("code") == \
            "concurrency-conflict"
        if answer.status_code == 503 or (retry_conflicts and conflict):
            time.sleep(random.uniform(0.01, 0.1))
            continue
        sent.status = answer.status_code
        sent.body = answer.json() if answer.content else {}
        return sent
    return sent


# --- what the ledger holds ---------------------------------------------------------------------
def recorded(app: DialogueLedger) -> dict[str, Counter[str]]:
    """For each API Idempotency-Key, how many events of each kind carry its command id
    (``api:<person id>:<key>``)."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    start = 1
    for _ in range(10_000):
        page = app.recorder.select_notifications(start=start, limit=5_000)
        if not page:
            break
        for notification in page:
            command_id = orjson.loads(notification.state).get("act", {}).get("command_id")
            if command_id and command_id.startswith("api:"):
                key = command_id.split(":", 2)[2]
                found[key][notification.topic.rsplit(":", 1)[1]] += 1
        start = page[-1].id + 1
    return found


def check_exactly_once(found: dict[str, Counter[str]], sent: Sequence[Sent],
                       kinds: Sequence[str]) -> None:
    """Every acknowledged command recorded once (its events and its command record); a
    command that was refused recorded nothing; nothing half-recorded."""
    by_key = {s.key: s for s in sent}
    for key, counts in found.items():
        if key not in by_key:
            continue  # another kind of command, checked on its own
        assert counts["CommandRecord.Recorded"] == 1, (key, counts)
        assert sum(counts[k] for k in kinds) == 1, (key, counts)  # never half-recorded
    for s in sent:
        if s.acknowledged:
            assert s.key in found, f"acknowledged but not recorded: {s}"
        elif s.status is not None:
            assert s.key not in found, f"refused ({s.status}) but recorded: {s}"


def wait_caught_up(app: DialogueLedger, live: Projector, seconds: float = 30.0,
                   proc: Proc | None = None) -> float:
    """Wait (bounded) until the views reach the ledger's head; the seconds it took."""
    started = time.monotonic()
    head = app.position
    for _ in range(int(seconds * 20)):
        live.refresh()
        if live.position >= head:
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            break
        time.sleep(0.05)
    detail = proc.tail() if proc is not None else ""
    raise AssertionError(f"views at {live.position}, ledger at {head} after {seconds} s\n"
                         f"{detail}")


def check_views_equal_rebuild(app: DialogueLedger) -> None:
    live = Projector(app)
    rebuilt = Projector(app, prefix="rebuilt_")
    rebuilt.rebuild()
    assert_same_views(live, rebuilt)


def run_threads(targets: Sequence[Callable[[], None]], seconds: float) -> None:
    failures: list[BaseException] = []

    def guard(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as error:  # reported by the test thread
                failures.append(error)
        return run

    threads = [threading.Thread(target=guard(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], f"threads still running after {seconds} s"
    if failures:
        raise failures[0]


# --- the tests ---------------------------------------------------------------------------------
def test_crash_api_processes_and_worker(postgres_env: dict[str, str], tmp_path: Path) -> None:
    world = prepare(postgres_env)
    rng = random.Random(int(os.environ.get("SCALE_OUT_SEED", "0")) or None)
    handles = VOTERS[:4]
    at_least = 10 * SIZE  # commands per client; they go on while the faults last
    at_most = 1_000 * SIZE  # a bound only: they stop when the faults end
    kills = 3 + 2 * SIZE
    sent: list[Sent] = []
    lock = threading.Lock()
    chaos_done = threading.Event()
    killed: list[str] = []
    with processes() as started:
        apis = [api_server(started, postgres_env, tmp_path, f"api{i}") for i in range(2)]
        worker = projection_worker(started, postgres_env, tmp_path)

        def replies(handle: str) -> Callable[[], None]:
            def run() -> None:
                clients = [client(api.url, world.tokens[handle], timeout=5) for api in apis]
                try:
                    for i in range(at_most):
                        if i >= at_least and chaos_done.is_set():
                            return
                        result = send(clients, "POST", f"/posts/{world.parent}/replies",
                                      {"body": f"{handle} says {i}"}, f"crash-{handle}-{i}",
                                      first=i)
                        with lock:
                            sent.append(result)
                        time.sleep(0.03)
                finally:
                    for c in clients:
                        c.close()
            return run

        def chaos() -> None:
            try:
                for _ in range(kills):
                    time.sleep(rng.uniform(0.1, 0.6))
                    victim = rng.choice([*apis, worker])
                    victim.kill()
                    killed.append(victim.name)
                    time.sleep(rng.uniform(0.0, 0.3))
                    victim.start()  # waits (bounded) until an API answers again
            finally:
                chaos_done.set()

        run_threads([*(replies(h) for h in handles), chaos], 240.0 * SIZE)
        assert len(killed) == kills
        print(f"killed {killed}; {len(sent)} commands, "
              f"{sum(s.transport_errors for s in sent)} transport errors, "
              f"{sum(st == 503 for s in sent for st in s.statuses)} answers 503")
        for proc in started:
            assert proc.alive(), f"{proc.name} is not running: {proc.tail()}"

        app = DialogueLedger(postgres_env)
        try:
            assert all(s.acknowledged for s in sent), [s for s in sent if not s.acknowledged]
            found = recorded(app)
            check_exactly_once(found, sent, ["Post.Published"])
            assert sorted(found) == sorted(s.key for s in sent)
            wait_caught_up(app, Projector(app), proc=worker)
            check_views_equal_rebuild(app)
        finally:
            app.close()


def test_contention_on_one_thread_and_one_nomination(postgres_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    world = prepare(postgres_env)
    rounds = 6 * SIZE
    sent: list[Sent] = []
    lock = threading.Lock()
    with processes() as started:
        api = api_server(started, postgres_env, tmp_path, "api", projector="in-process")

        def voter(handle: str) -> Callable[[], None]:
            def run() -> None:
                with client(api.url, world.tokens[handle]) as c:
                    mine: list[Sent] = []
                    vote = send([c], "POST", f"/nominations/{world.nomination}/votes",
                                {"choice": "admit", "reason": "first"}, f"cast-{handle}",
                                retry_conflicts=True)
                    mine.append(vote)
                    for i in range(rounds):
                        mine.append(send([c], "POST", f"/posts/{world.parent}/replies",
                                         {"body": f"{handle} {i}"}, f"reply-{handle}-{i}"))
                        mine.append(send([c], "PUT", f"/nominations/{world.nomination}/votes/mine",
                                         {"choice": ("decline", "admit")[i % 2],
                                          "reason": f"round {i}"}, f"change-{handle}-{i}"))
                    with lock:
                        sent.extend(mine)
            return run

        run_threads([voter(h) for h in VOTERS], 120.0 * SIZE)
        assert api.alive(), api.tail()

    statuses = Counter(status for s in sent for status in s.statuses)
    print(f"answers: {dict(statuses)}")
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    for s in sent:  # a 409 is a conflict, and only on the contended nomination
        if s.status == 409:
            assert s.body["code"] == "concurrency-conflict", s
    assert all(s.acknowledged for s in sent if s.key.startswith(("cast-", "reply-"))), \
        [s for s in sent if not s.acknowledged and not s.key.startswith("change-")]
    app = DialogueLedger(postgres_env)
    try:
        found = recorded(app)
        assert set(found) <= {s.key for s in sent}
        check_exactly_once(found, [s for s in sent if s.key.startswith("reply-")],
                           ["Post.Published"])
        check_exactly_once(found, [s for s in sent if not s.key.startswith("reply-")],
                           ["Nomination.VoteCast", "Nomination.VoteChanged"])
        assert len(found) == sum(s.acknowledged for s in sent)
        nomination: Nomination = app.repository.get(world.nomination)
        votes = sum(1 for key in found if key.startswith(("cast-", "change-")))
        assert nomination.version == 1 + votes  # Made, then one event per accepted vote
    finally:
        app.close()


def test_idempotency_under_concurrent_and_timed_out_retries(postgres_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    world = prepare(postgres_env)
    keys = [f"same-{i}" for i in range(5 * SIZE)]
    copies = 4
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    lock = threading.Lock()
    with processes() as started:
        api = api_server(started, postgres_env, tmp_path, "api", projector="in-process")
        token = world.tokens["ruth"]

        def impatient(key: str) -> None:
            """Gives up after a millisecond (the server may well record it), then retries."""
            with client(api.url, token, timeout=0.001) as hasty, \
                    suppress(httpx.TimeoutException):
                hasty.post(f"/posts/{world.parent}/replies", json={"body": key},
                               headers={"Idempotency-Key": key})

        def sender(key: str) -> Callable[[], None]:
            def run() -> None:
                impatient(key)
                with client(api.url, token) as c:
                    result = send([c], "POST", f"/posts/{world.parent}/replies",
                                  {"body": key}, key)
                assert result.acknowledged, result
                with lock:
                    answers[key].append(result.body)
            return run

        run_threads([sender(k) for k in keys for _ in range(copies)], 60.0 * SIZE)
        assert api.alive(), api.tail()

    app = DialogueLedger(postgres_env)
    try:
        found = recorded(app)
        assert sorted(found) == sorted(keys)
        for key in keys:
            assert found[key]["Post.Published"] == 1, (key, found[key])
            assert found[key]["CommandRecord.Recorded"] == 1, (key, found[key])
            assert len({a["id"] for a in answers[key]}) == 1, answers[key]
            assert len(answers[key]) == copies
    finally:
        app.close()


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (Linux /proc)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[9] in inodes:
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def terminate_backends_of(pid: int) -> int:
    """``pg_terminate_backend`` every server backend whose client is process ``pid``."""
    ports = sorted(_local_ports(pid))
    if not ports:
        return 0
    with pg_connect() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND client_addr IS NOT NULL AND client_port = ANY(%s)", (ports,)).fetchall()
    return sum(1 for (done,) in rows if done)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds sockets in /proc")
def test_worker_reconnects_after_its_connections_are_terminated(
        postgres_env: dict[str, str], tmp_path: Path) -> None:
    world = prepare(postgres_env)
    commands = 60 * SIZE
    rounds = 3 * SIZE
    terminated: list[int] = []
    stop = threading.Event()
    with processes() as started:
        worker = projection_worker(started, postgres_env, tmp_path)
        app = DialogueLedger(postgres_env)
        try:
            live = Projector(app)
            wait_caught_up(app, live, proc=worker)
            assert worker.process is not None

            def writer() -> None:
                for i in range(commands):
                    if stop.is_set():
                        return
                    app.reply(world.parent, f"while reconnecting {i}",
                              actor_id=world.people["ruth"], command_id=f"api:x:rc-{i}")
                    time.sleep(0.02)

            def terminator() -> None:
                for _ in range(rounds):
                    time.sleep(0.4)
                    assert worker.process is not None
                    terminated.append(terminate_backends_of(worker.process.pid))

            try:
                run_threads([writer, terminator], 60.0 * SIZE)
            finally:
                stop.set()
            assert sum(terminated) >= rounds, terminated  # each round found the worker's
            assert worker.alive(), worker.tail()
            took = wait_caught_up(app, live, seconds=20.0, proc=worker)
            assert took < 20.0
            # and it keeps following after the reconnect: one more command, caught up again
            app.reply(world.parent, "after", actor_id=world.people["ruth"],
                      command_id="api:x:rc-after")
            wait_caught_up(app, live, seconds=10.0, proc=worker)
            found = recorded(app)
            assert all(found[f"rc-{i}"]["Post.Published"] == 1 for i in range(commands))
            check_views_equal_rebuild(app)
        finally:
            app.close()


def test_lock_timeout_answers_503_and_records_nothing(postgres_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    world = prepare(postgres_env)
    schema = postgres_env["POSTGRES_SCHEMA"]
    with processes() as started:
        api = api_server(started, postgres_env, tmp_path, "api", projector="in-process",
                         POSTGRES_LOCK_TIMEOUT="1")
        with client(api.url, world.tokens["ruth"], timeout=20) as ruth:
            path = f"/posts/{world.parent}/replies"
            headers = {"Idempotency-Key": "locked-1"}
            holder = pg_connect()
            try:
                holder.autocommit = False
                holder.execute(sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
                    sql.Identifier(schema), sql.Identifier("dialogueledger_events")))
                began = time.monotonic()
                refused = ruth.post(path, json={"body": "behind a lock"}, headers=headers)
                waited = time.monotonic() - began
                assert refused.status_code == 503, refused.text
                assert refused.headers.get("retry-after"), refused.headers
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["code"] == "store-busy", refused.json()
                assert "nothing was recorded" in refused.json()["detail"]  # known: no write
                assert waited > 0.8, waited
            finally:
                holder.rollback()
                holder.close()
            app = DialogueLedger(postgres_env)
            try:
                assert "locked-1" not in recorded(app)
                accepted = ruth.post(path, json={"body": "behind a lock"}, headers=headers)
                assert accepted.status_code == 201, accepted.text
                again = ruth.post(path, json={"body": "behind a lock"}, headers=headers)
                assert again.status_code == 201
                assert again.json()["id"] == accepted.json()["id"]
                found = recorded(app)
                assert found["locked-1"]["Post.Published"] == 1
                assert found["locked-1"]["CommandRecord.Recorded"] == 1
            finally:
                app.close()
        assert api.alive(), api.tail()


def test_a_stale_batch_is_never_applied_twice_by_two_workers(postgres_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    """Two workers follow the same views while commands arrive: each event once."""
    world = prepare(postgres_env)
    with processes() as started:
        workers = [projection_worker(started, postgres_env, tmp_path, f"worker{i}")
                   for i in range(2)]
        app = DialogueLedger(postgres_env)
        try:
            for i in range(40 * SIZE):
                app.reply(world.parent, f"two workers {i}", actor_id=world.people["jonas"])
                if i % 10 == 0:
                    time.sleep(0.05)
            wait_caught_up(app, Projector(app), seconds=30.0, proc=workers[0])
            assert all(w.alive() for w in workers)
            check_views_equal_rebuild(app)
        finally:
            app.close()


def test_a_lock_timeout_answers_within_about_the_configured_seconds(
        postgres_env: dict[str, str]) -> None:
    app = DialogueLedger({**postgres_env, "POSTGRES_LOCK_TIMEOUT": "1"})
    holder = pg_connect()
    outcome: list[BaseException | None] = []

    def command() -> None:
        try:
            app.register_person("waiter", "Waiter")
            outcome.append(None)
        except BaseException as error:  # the lock timeout, reported below
            outcome.append(error)

    try:
        holder.autocommit = False
        holder.execute(sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
            sql.Identifier(postgres_env["POSTGRES_SCHEMA"]),
            sql.Identifier("dialogueledger_events")))
        waiting = threading.Thread(target=command, daemon=True)
        waiting.start()
        waiting.join(3.0)  # POSTGRES_LOCK_TIMEOUT=1 plus plenty of slack
        answered = not waiting.is_alive()
    finally:
        holder.rollback()
        holder.close()
    waiting.join(30)
    app.close()
    assert answered, "still waiting for the insert lock 3 s after POSTGRES_LOCK_TIMEOUT=1"
    assert outcome and isinstance(outcome[0], PersistenceError)


def test_processes_starting_at_once_on_an_empty_schema(postgres_env: dict[str, str]) -> None:
    errors: list[BaseException] = []
    for _ in range(3):
        schema = f"{postgres_env['POSTGRES_SCHEMA']}_r{len(errors)}_{random.randrange(10**6)}"
        with pg_connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        env = {**postgres_env, "POSTGRES_SCHEMA": schema}
        barrier = threading.Barrier(5)

        def start_process(env: dict[str, str] = env,
                          barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(10)
                app = DialogueLedger(env)  # what `serve` and `project` do first
                try:
                    Projector(app)
                finally:
                    app.close()
            except BaseException as error:  # collected and reported below
                errors.append(error)

        try:
            run_threads([start_process] * 5, 60.0)  # start_process keeps its own errors
        finally:
            with pg_connect() as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))
    assert not errors, errors
