"""Where the API's commands run: a command process of its own (``api/commands.py``), or this
process for an in-memory store; what crosses the process boundary comes back whole."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import examples
from api.commands import InlineCommands, ProcessCommands
from ledger import errors
from ledger.application import DialogueLedger
from ledger.domain import CommandId
from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    WorldCopy,
    pg_world_fixture,
    serve,
    services,
    stored_fixture,
    world_copy_fixture,
    world_template_fixture,
)


@pytest.fixture(name="client")
def client_fixture(stored: WorldCopy) -> Iterator[TestClient]:
    with serve(stored.env) as found:
        yield found


def reply(client: TestClient, w: Any, text: str, **headers: str) -> Any:
    return client.post(f"/posts/{w.post}/replies", json={"body": text},
                       headers={**w.headers("member"), **headers})


def ledger_errors() -> list[type[errors.LedgerError]]:
    found: list[type[errors.LedgerError]] = []
    pending: list[type[errors.LedgerError]] = [errors.LedgerError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", ledger_errors(), ids=lambda cls: cls.__name__)
def test_every_ledger_error_crosses_a_process_boundary_with_its_code_and_details(
        cls: type[errors.LedgerError]) -> None:
    raised = cls("that cannot be done", field="body", limit=20_000, id="abc")
    copy = pickle.loads(pickle.dumps(raised))
    assert type(copy) is cls
    assert copy.as_dict() == raised.as_dict()
    assert str(copy) == str(raised)


def test_an_idempotency_key_crosses_a_process_boundary_with_its_request_digest() -> None:
    key = CommandId("api:someone:key-1", "digest-of-the-request")
    copy = pickle.loads(pickle.dumps(key))
    assert (copy, copy.request) == ("api:someone:key-1", "digest-of-the-request")


def test_the_api_records_its_commands_in_a_command_process_and_reads_them_back(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    commands = services(client).commands
    assert isinstance(commands, ProcessCommands)
    assert commands.process.pid != os.getpid() and commands.process.is_alive()
    answered = reply(client, w, "Recorded elsewhere, read here.")
    assert answered.status_code == 201, answered.text
    receipt = answered.json()
    view = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                      params={"min_position": receipt["position"]})
    assert view.status_code == 200
    assert int(view.headers["x-view-position"]) >= receipt["position"]
    bodies = [post["body"] for post in _posts(view.json()["posts"])]
    assert "Recorded elsewhere, read here." in bodies


def test_a_domain_error_raised_in_the_command_process_is_answered_as_its_problem(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    first = reply(client, w, "Once.", **{"Idempotency-Key": "commands-test-1"})
    assert first.status_code == 201
    again = reply(client, w, "Twice?", **{"Idempotency-Key": "commands-test-1"})
    assert again.status_code == 422
    problem = again.json()
    assert problem["type"] == "urn:dialogue-ledger:problem:idempotency-key-reused"
    assert problem["command"] == "reply"  # the error's details came back with it
    replayed = reply(client, w, "Once.", **{"Idempotency-Key": "commands-test-1"})
    assert replayed.json() == first.json()
    assert replayed.headers["idempotent-replayed"] == "true"


def test_a_command_process_that_stops_is_replaced_and_commands_go_on(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    commands = services(client).commands
    assert isinstance(commands, ProcessCommands)
    stopped = commands.process
    os.kill(stopped.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while commands.restarts < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert commands.restarts == 1, "no new command process was started"
    assert commands.process is not stopped and commands.process.is_alive()
    answered = reply(client, w, "After the restart.")
    assert answered.status_code == 201, answered.text
    view = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                      params={"min_position": answered.json()["position"]})
    assert view.status_code == 200  # the new command process keeps the views current


def test_a_command_sent_while_the_command_process_is_gone_is_refused_with_503(
        client: TestClient, stored: WorldCopy) -> None:
    w = stored.world
    commands = services(client).commands
    assert isinstance(commands, ProcessCommands)
    with commands._lock:  # as between a stop and the restart: no connection
        conn, commands._conn = commands._conn, None
    try:
        refused = reply(client, w, "Nobody to record this.")
        not_ready = client.get("/readyz")
    finally:
        with commands._lock:
            commands._conn = conn
    assert refused.status_code == 503
    assert refused.json()["type"] == "urn:dialogue-ledger:problem:commands-unavailable"
    assert refused.headers["retry-after"] == "1"
    assert not_ready.status_code == 503
    assert not_ready.json() == examples.UNREADY  # as /docs shows it
    assert client.get("/readyz").status_code == 200
    assert reply(client, w, "Recorded again.").status_code == 201


def test_a_listener_that_fails_on_an_answer_does_not_keep_the_answer_from_its_request(
        client: TestClient, stored: WorldCopy) -> None:
    svc = services(client)

    def broken(position: int) -> None:
        raise RuntimeError("a listener that fails")

    svc.ledger.listeners.append(broken)
    try:
        first = reply(client, stored.world, "Answered all the same.")
        second = reply(client, stored.world, "And the next one too.")
    finally:
        svc.ledger.listeners.remove(broken)
    assert (first.status_code, second.status_code) == (201, 201)


def test_the_command_process_stops_with_the_api(world_copy: WorldCopy) -> None:
    with serve(world_copy.env) as client:
        commands = services(client).commands
        assert isinstance(commands, ProcessCommands)
        process = commands.process
    assert not process.is_alive()
    assert process.exitcode == 0


def test_a_command_process_that_cannot_open_the_store_fails_with_the_stores_error(
        tmp_path: Path) -> None:
    ledger = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        with pytest.raises(Exception, match="unable to open database"):
            ProcessCommands({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": str(tmp_path / "missing" / "ledger.db")},
                            ledger, project=False, on_views=lambda prefix, positions: None)
    finally:
        ledger.close()


def test_an_in_memory_store_runs_the_commands_in_the_api_process() -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    with serve(env) as client:
        assert isinstance(services(client).commands, InlineCommands)
        assert client.get("/readyz").status_code == 200


def test_inline_commands_answer_as_the_command_process_does(world_copy: WorldCopy) -> None:
    w = world_copy.world
    with serve(world_copy.env, commands="inline") as client:
        assert isinstance(services(client).commands, InlineCommands)
        answered = reply(client, w, "Recorded here.")
        assert answered.status_code == 201
        view = client.get(f"/threads/{w.thread}", headers=w.headers("member"),
                          params={"min_position": answered.json()["position"]})
        assert "Recorded here." in [p["body"] for p in _posts(view.json()["posts"])]
        missing = client.post("/posts/00000000-0000-4000-8000-000000000000/replies",
                              json={"body": "To nothing."}, headers=w.headers("member"))
        assert missing.status_code == 404


def _posts(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for node in nodes for p in (node, *_posts(node["replies"]))]
