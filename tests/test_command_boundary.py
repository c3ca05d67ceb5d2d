"""What crosses the API's process boundary, and what a 503 may say (issue 14).

* The command process runs only commands named in its closed registry, with plain values:
  a function, or an unknown name, is refused, never run.
* Every command has a deadline: a command held up past it (the store write-locked), or one
  whose answer cannot cross the pipe, answers 503 with ``Retry-After`` saying that it may
  have been recorded and to retry with the same ``Idempotency-Key``; that retry records it
  once.
* A store error says "nothing was recorded" only when that is known (before any write);
  after a possible commit it says the command may have been recorded.
* With pooled connections terminated (as by a PostgreSQL restart), the next reads and
  writes succeed: connections are checked before use (``POSTGRES_PRE_PING``, on by default).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from api import command_process, commands
from ledger.application import DialogueLedger, Receipt
from ledger.domain import AdmissionRule, CommandId, PostKind
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    WorldCopy,
    pg_world_fixture,
    serve,
    services,
    stored_fixture,
    world_copy_fixture,
    world_template_fixture,
)
from tests.conftest import pg_connect
from tests.test_processes import write_locked
from tests.test_scale_out import recorded

MAY_HAVE_BEEN_RECORDED = "may have been recorded"


def reply(client: TestClient, stored: WorldCopy, text: str, key: str,
          post: str | None = None) -> Any:
    w = stored.world
    return client.post(f"/posts/{post or w.post}/replies", json={"body": text},
                       headers={**w.headers("member"), "Idempotency-Key": key})


def open_thread(client: TestClient, stored: WorldCopy, title: str, key: str) -> Any:
    w = stored.world
    return client.post(f"/communities/{w.community}/threads",
                       json={"kind": "question", "title": title, "body": "Anyone?"},
                       headers={**w.headers("member"), "Idempotency-Key": key})


def times_recorded(env: dict[str, str], key: str, kind: str) -> int:
    app = DialogueLedger(env)
    try:
        return recorded(app)[key][kind]
    finally:
        app.close()


def assert_may_have_been_recorded(answer: Any, code: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    problem = answer.json()
    assert problem["code"] == code, problem
    assert MAY_HAVE_BEEN_RECORDED in problem["detail"]
    assert "same Idempotency-Key" in problem["detail"]
    assert "nothing was recorded" not in problem["detail"]


# --- the protocol: names from a closed registry, plain values -------------------------------
@pytest.fixture(name="command_process_pipe")
def command_process_pipe_fixture(tmp_path: Path) -> Iterator[Any]:
    """A command process on a new SQLite store, and our end of its pipe."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path / "ledger.db")}
    DialogueLedger(env).close()
    ours, theirs = commands._CONTEXT.Pipe()
    process = commands._CONTEXT.Process(target=command_process.main,
                                        args=(env, theirs, False, 1), daemon=True)
    process.start()
    theirs.close()
    try:
        assert ours.recv() == ("ready",)
        yield ours
        ours.send(None)
        process.join(10)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
        ours.close()


def test_the_command_process_refuses_a_command_name_it_does_not_know(
        command_process_pipe: Any) -> None:
    command_process_pipe.send((1, "drop_everything", (), {}))
    kind, request_id, error = command_process_pipe.recv()
    assert (kind, request_id) == ("failed", 1)
    assert isinstance(error, command_process.UnknownCommand)


def test_the_command_process_never_runs_a_function_sent_to_it(
        command_process_pipe: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command_process_pipe.send_bytes(pickle.dumps((2, os.system, (f"touch {marker}",), {})))
    kind, request_id, error = command_process_pipe.recv()
    assert (kind, request_id) == ("failed", 2)
    assert isinstance(error, command_process.UnknownCommand)
    command_process_pipe.send_bytes(pickle.dumps(
        (3, "register_person", (print, "Someone"), {"actor_id": uuid.uuid4()})))
    kind, request_id, error = command_process_pipe.recv()
    assert (kind, request_id) == ("failed", 3)
    command_process_pipe.send_bytes(pickle.dumps(  # a class that is not a plain value
        (4, "register_person", (DialogueLedger, "Someone"), {"actor_id": uuid.uuid4()})))
    kind, request_id, error = command_process_pipe.recv()
    assert (kind, request_id) == ("failed", 4)
    assert not marker.exists()


def test_plain_command_values_cross_the_pipe_whole() -> None:
    message = (4, "reply_in_thread", (uuid.uuid4(), "Hello", date(2026, 12, 4),
                                      datetime(2026, 12, 4, 18, 0, tzinfo=UTC), AdmissionRule()),
               {"kind": PostKind.COMMENT, "actor_id": uuid.uuid4(),
                "command_id": CommandId("api:x:key", "digest")})
    assert command_process.plain_values(pickle.dumps(message)) == message


def test_the_api_sends_only_registered_commands() -> None:
    assert command_process.COMMAND_NAMES[DialogueLedger.reply] == "reply"

    def unregistered(ledger: DialogueLedger) -> None:
        return None

    world = commands.ProcessCommands.__new__(commands.ProcessCommands)
    with pytest.raises(TypeError, match="not a registered command"):
        world.submit(unregistered, (), {})


# --- deadlines ------------------------------------------------------------------------------
def test_a_command_held_up_past_its_deadline_answers_503_and_a_retry_records_it_once(
        stored: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOGUE_LEDGER_COMMAND_DEADLINE", "1")
    env = {**stored.env, "SQLITE_LOCK_TIMEOUT": "60", "POSTGRES_LOCK_TIMEOUT": "60"}
    keys = [f"deadline-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with serve(env) as client:
        with write_locked(env):  # the commands wait for the lock, past their deadline
            late_reply = reply(client, stored, "Held up.", keys[0])  # from the event loop
            late_thread = open_thread(client, stored, "Held up", keys[1])  # from a thread
        assert_may_have_been_recorded(late_reply, "command-timeout")
        assert_may_have_been_recorded(late_thread, "command-timeout")
        retried = reply(client, stored, "Held up.", keys[0])
        retried_thread = open_thread(client, stored, "Held up", keys[1])
        assert (retried.status_code, retried_thread.status_code) == (201, 201)
    assert times_recorded(env, keys[0], "Post.Published") == 1
    assert times_recorded(env, keys[1], "Thread.Opened") == 1


def unpicklable_reply(ledger: DialogueLedger, post_id: UUID, body: str, *, kind: PostKind,
                      actor_id: UUID, command_id: CommandId | None) -> tuple[Receipt, Any]:
    """The reply, answered with something that cannot be pickled (a lambda) when it has
    just been recorded; a retry, answered from the first run, is answered whole."""
    receipt = ledger.reply(post_id, body, kind=kind, actor_id=actor_id, command_id=command_id)
    return receipt, ledger.thread_of(post_id) if receipt.replayed else lambda: None


def test_an_answer_that_cannot_cross_the_pipe_answers_503_and_a_retry_finds_it_recorded(
        world_copy: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    # A forked command process inherits this registry, with a command whose answer cannot
    # be pickled (the fork server's would not).
    monkeypatch.setattr(commands, "_CONTEXT", multiprocessing.get_context("fork"))
    monkeypatch.setitem(command_process.COMMANDS, "reply_in_thread", unpicklable_reply)
    key = f"lost-{uuid.uuid4().hex[:8]}"
    with serve(world_copy.env) as client:
        lost = reply(client, world_copy, "Its answer is lost.", key)
        assert_may_have_been_recorded(lost, "command-answer-lost")
        retried = reply(client, world_copy, "Its answer is lost.", key)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"  # it had been recorded
    assert times_recorded(world_copy.env, key, "Post.Published") == 1


# --- what a store error may say ---------------------------------------------------------------
def test_a_store_error_before_any_write_says_nothing_was_recorded(
        stored: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"before-{uuid.uuid4().hex[:8]}"
    with serve(stored.env, commands="inline") as client:
        ledger = services(client).ledger

        def unreachable(*args: Any, **kwargs: Any) -> None:
            raise OperationalError("connection refused")

        monkeypatch.setattr(ledger, "_load_ahead", unreachable)
        refused = reply(client, stored, "Never written.", key)
        monkeypatch.undo()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "store-unavailable"
    assert "nothing was recorded" in refused.json()["detail"]
    assert times_recorded(stored.env, key, "Post.Published") == 0


def test_a_store_error_after_the_command_ran_says_it_may_have_been_recorded(
        stored: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"after-{uuid.uuid4().hex[:8]}"
    w = stored.world
    path = f"/posts/{w.jonas_post}/acknowledgements"
    headers = {**w.headers("representative"), "Idempotency-Key": key}
    with serve(stored.env) as client:
        ledger = services(client).ledger

        def connection_lost(post_id: UUID) -> UUID:  # the read after the command
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(ledger, "thread_of", connection_lost)
        answered = client.post(path, headers=headers)
        monkeypatch.undo()
        assert_may_have_been_recorded(answered, "store-unavailable")
        retried = client.post(path, headers=headers)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"


@pytest.mark.postgres
def test_a_connection_lost_after_the_commit_answers_that_the_command_may_have_been_recorded(
        pg_world: WorldCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: the reply was committed, then the connection went (the answer to
    the COMMIT was lost): "nothing was recorded" would be untrue."""
    key = f"commit-{uuid.uuid4().hex[:8]}"
    with serve(pg_world.env, commands="inline") as client:
        ledger = services(client).ledger
        save = ledger.save

        def committed_then_lost(*aggregates: Any, **kwargs: Any) -> Any:
            save(*aggregates, **kwargs)
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(ledger, "save", committed_then_lost)
        answered = reply(client, pg_world, "Committed, answer lost.", key)
        monkeypatch.undo()
        assert_may_have_been_recorded(answered, "store-unavailable")
        retried = reply(client, pg_world, "Committed, answer lost.", key)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"
    assert times_recorded(pg_world.env, key, "Post.Published") == 1


# --- PostgreSQL connections terminated ----------------------------------------------------------
def terminate_backends_of(schema: str) -> int:
    """Terminate the server connections that have worked in ``schema`` (this test's only:
    other tests use other schemas on the same server)."""
    with pg_connect() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND position(%s in query) > 0", (f'"{schema}"',)).fetchall()
    return len(rows)


@pytest.mark.postgres
def test_after_its_connections_are_terminated_the_api_reads_and_writes_without_a_503(
        pg_world: WorldCopy) -> None:
    w = pg_world.world
    thread = f"/threads/{w.thread}"
    with serve(pg_world.env) as client:
        for n in range(4):  # every pooled connection has been used
            assert reply(client, pg_world, f"Before {n}.", f"pre-{uuid.uuid4()}"
                         ).status_code == 201
            assert client.get(thread, headers=w.headers("member")).status_code == 200
        assert terminate_backends_of(pg_world.env["POSTGRES_SCHEMA"]) >= 2
        for n in range(6):  # more than there are pooled connections
            read = client.get(thread, headers=w.headers("member"))
            assert read.status_code == 200, read.text
            written = reply(client, pg_world, f"After {n}.", f"post-{uuid.uuid4()}")
            assert written.status_code == 201, written.text
