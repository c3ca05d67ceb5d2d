"""End to end against a real server: ``dialogue-ledger serve`` (uvicorn) in a subprocess on
a loopback port, over a SQLite store that the command line filled (``demo``, ``token
create``), driven over real HTTP with httpx.

Everything is bounded: the server gets 30 s to answer ``/healthz``, every request has a
timeout, the event stream ends after one event or 15 s, and the server is terminated (then
killed) with bounded waits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
COMMUNITY = "northwind-voices"


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    log: Path


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_"))}
    env.update({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db),
                "PYTHONUNBUFFERED": "1"})
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ledger.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("api-server")
    env = _env(folder / "ledger.db")
    assert "Recorded the demo dialogue" in _cli(env, "demo")
    tokens = {}
    for name, handle, role in (("member", "ruth", "member"),
                               ("representative", "maya", "representative"),
                               ("auditor", "ines", "auditor"), ("jonas", "jonas", "member")):
        tokens[name] = _cli(env, "token", "create", "--person", handle, "--role",
                            role).splitlines()[0].strip()
        assert tokens[name].startswith("dl_")
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--host", HOST, "--port", str(port),
             "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 30
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer in 30 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Server(url, tokens, log)
    finally:
        _stop(process)
        assert process.returncode is not None


def _client(server: Server, role: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=15,
                        headers={"Authorization": f"Bearer {server.tokens[role]}"})


def test_open_reply_read_back_and_stream(server: Server) -> None:
    with _client(server, "member") as ruth, _client(server, "representative") as maya:
        ready = ruth.get("/readyz").json()
        assert ready["status"] == "ready"

        opened = ruth.post(f"/communities/{COMMUNITY}/threads",
                           headers={"Idempotency-Key": "server-test-open"},
                           json={"kind": "question", "title": "Over real HTTP",
                                 "body": "Does the server keep up?"})
        assert opened.status_code == 201, opened.text
        thread = opened.json()
        assert thread["position"] > ready["ledger_position"]
        view = ruth.get(f"/threads/{thread['id']}",
                        params={"min_position": thread["position"]})
        assert view.status_code == 200
        opening = view.json()["posts"][0]

        replied = maya.post(f"/posts/{opening['id']}/replies",
                            json={"body": "It does: this is the organisation answering."})
        assert replied.status_code == 201, replied.text
        reply = replied.json()
        tree = ruth.get(f"/threads/{thread['id']}", params={"min_position": reply["position"]})
        assert tree.status_code == 200
        (answer,) = tree.json()["posts"][0]["replies"]
        assert answer["id"] == reply["id"]
        assert answer["for_organisation"] is True
        cached = ruth.get(f"/threads/{thread['id']}",
                          headers={"If-None-Match": tree.headers["etag"]})
        assert cached.status_code == 304

        # a live event: the stream is open before the reply is recorded
        events: list[dict[str, Any]] = []
        opened_stream = threading.Event()
        failure: list[BaseException] = []

        def listen() -> None:
            try:
                with ruth.stream("GET", f"/communities/{COMMUNITY}/events",
                                 params={"since": reply["position"], "max_events": 1,
                                         "timeout": 15}) as stream:
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    opened_stream.set()
                    for line in stream.iter_lines():
                        if line.startswith("data:"):
                            events.append(orjson.loads(line.removeprefix("data:").strip()))
                            return
            except BaseException as error:  # reported by the test thread
                failure.append(error)
            finally:
                opened_stream.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened_stream.wait(15)
        live = maya.post(f"/posts/{opening['id']}/replies", json={"body": "Live."})
        assert live.status_code == 201
        listener.join(20)
        assert not listener.is_alive(), "the event did not arrive"
        assert not failure, failure
        assert events == [{"position": live.json()["position"], "kind": "Post.Published",
                           "id": live.json()["id"]}]

        # an Idempotency-Key retry over the wire records nothing
        again = ruth.post(f"/communities/{COMMUNITY}/threads",
                          headers={"Idempotency-Key": "server-test-open"},
                          json={"kind": "question", "title": "Over real HTTP",
                                "body": "Does the server keep up?"})
        assert again.status_code == 201
        assert again.json()["id"] == thread["id"]
        assert again.headers["idempotent-replayed"] == "true"


def test_refusals_over_the_wire(server: Server) -> None:
    with _client(server, "auditor") as ines, httpx.Client(base_url=server.url,
                                                          timeout=15) as anonymous:
        assert anonymous.get(f"/communities/{COMMUNITY}/threads").status_code == 401
        refused = ines.post(f"/communities/{COMMUNITY}/threads",
                            json={"kind": "question", "title": "x", "body": "y"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "auditors-cannot-write"
        big = ines.post(f"/communities/{COMMUNITY}/threads",
                        content=b"{" + b" " * 70_000 + b"}",
                        headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        assert anonymous.request("DELETE", f"/communities/{COMMUNITY}").status_code == 405
        metrics = anonymous.get("/metrics").text
        assert 'route="/communities/{community}/threads"' in metrics


def _listen(client: httpx.Client, since: int, seconds: float, opened: threading.Event,
            events: list[dict[str, Any]], failure: list[BaseException]) -> None:
    try:
        with client.stream("GET", f"/communities/{COMMUNITY}/events",
                           params={"since": since, "max_events": 10,
                                   "timeout": seconds}) as stream:
            assert stream.status_code == 200
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(orjson.loads(line.removeprefix("data:").strip()))
    except BaseException as error:  # reported by the test thread
        failure.append(error)
    finally:
        opened.set()


def test_a_stream_stops_when_its_reader_leaves(server: Server) -> None:
    with _client(server, "jonas") as jonas, _client(server, "representative") as maya:
        head = jonas.get("/readyz").json()["ledger_position"]
        events: list[dict[str, Any]] = []
        failure: list[BaseException] = []
        opened = threading.Event()
        listener = threading.Thread(target=_listen, args=(jonas, head, 4, opened, events,
                                                          failure), daemon=True)
        listener.start()
        assert opened.wait(15)
        left = jonas.post(f"/communities/{COMMUNITY}/leave")
        assert left.status_code == 200, left.text
        thread = maya.post(f"/communities/{COMMUNITY}/threads",
                           json={"kind": "comment", "title": "After jonas left",
                                 "body": "Not for him."})
        assert thread.status_code == 201
        listener.join(20)
        assert not listener.is_alive()
        assert not failure, failure
        assert [e for e in events if e["id"] == thread.json()["id"]] == []
