#!/usr/bin/env python
"""Benchmark of the HTTP API against same-size baselines served by the same process.

The issue's targets (issue 4, "Performance"):

* ``GET`` thread view and ``GET`` listen-and-respond report: requests/s at least 0.7x those of
  a constant orjson endpoint that returns a body of the same size, in the same run;
* ``POST`` reply on SQLite: requests/s at least 0.5x those of a bare endpoint that does one
  SQLite insert per request, in the same run;
* p50 and p99 latencies for each.

How it is measured:

* A SQLite store in a temporary folder gets the demo dialogue (``record_demo``) and, by
  default, more replies in the demo's outage thread so that its view has a realistic size;
  a member token (ruth) is issued with ``issue_token``.
* One uvicorn server process (1 worker, 127.0.0.1, a free port) serves a small dispatcher:
  ``/_bench/…`` goes to a bare FastAPI app with two baselines, everything else straight to
  the real ``create_app(env)``, exactly as ``dialogue-ledger serve`` serves it (its lifespan
  is run by the baselines' app), so that both sides share one process, event loop and
  thread pool:

  - ``GET /_bench/constant?size=N``: pre-serialised orjson bytes, exactly N bytes long (an
    ``async def``, i.e. the framework's ceiling for a body of that size; see
    ``--constant-sync``);
  - ``POST /_bench/insert``: parses a JSON body like a reply's and does one SQLite INSERT
    into a scratch table (its own database file in the same folder, WAL, the same
    ``synchronous`` setting as eventsourcing's connections, one connection serialised by a
    lock like eventsourcing's single writer), as a plain ``def`` so it runs in the thread
    pool like the real endpoints.

* The load comes from other processes than the server's: this one or, with ``--clients N``,
  N worker processes sharing the concurrency. The default client is a lean asyncio HTTP/1.1
  client: ``httpx.AsyncClient`` (``--client httpx``) needs about 2 ms of CPU per request and
  saturates long before the server does on a 2-core machine. Closed loop, fixed
  concurrency (16 by default), keep-alive connections; each scenario has an untimed warm-up,
  then a measurement bounded by a request count and a time limit. The CPU time of the
  server and of the client(s) is recorded for every scenario, to show which side was
  saturated.
* Reads are measured first, in rounds (the order alternates every round), then writes in
  rounds, so the replies recorded by the write scenarios cannot change what the reads
  return. Every scenario's figures are the medians over the rounds; each ratio is the median
  of the per-round ratios.

Run from the repository root::

    .venv/bin/python benchmarks/api.py                 # full run, about 3 minutes
    .venv/bin/python benchmarks/api.py --quick         # smoke test, < 60 s
    .venv/bin/python benchmarks/api.py --json /tmp/api-bench.json

See ``benchmarks/README.md`` ("HTTP API") for the figures measured.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
from pydantic import BaseModel, Field

# This file is benchmarks/api.py: run as a script, its folder comes first on sys.path and
# "import api" would find this file instead of the project's package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

HOST = "127.0.0.1"
COMMUNITY = "northwind-voices"
OUTAGE_TITLE = "Rural north: outages every storm, and no answers"
WELCOME_TITLE = "Welcome to Northwind Voices"
REPORT_PATH = f"/communities/{COMMUNITY}/reports/listening?from=2026-09-01&to=2026-11-01"
MEMBER = "ruth"
#: The other members who write the extra replies of the outage thread.
WRITERS = ("omar", "jonas", "sofia", "felix", "kenji", "noor", "amara", "priya", "ruth",
           "maya", "tom")
EXTRA_REPLIES = (
    "Same in our valley: the status page said all clear while we sat in the dark.",
    "The 30-hour outage matches the figures our parish council collected.",
    "Could Northwind publish the restoration times per district for the last year?",
    "My neighbour relies on a powered oxygen concentrator; 30 hours is dangerous.",
    "Thanks for the answer, but when will the crews actually be back?",
    "The regulator's quarterly report shows the north below the national average again.",
    "We had a generator on loan from the council; Northwind never offered one.",
    "Adding my voice: this is the single most important issue in our district.",
)
REPLY_BODY = "Benchmark reply: the crews were out within hours this time."

THREAD = "GET thread view"
REPORT = "GET report"
CONST_THREAD = "GET constant (thread size)"
CONST_REPORT = "GET constant (report size)"
REPLY = "POST reply"
INSERT = "POST bare insert"
READS = (THREAD, CONST_THREAD, REPORT, CONST_REPORT)
WRITES = (REPLY, INSERT)
#: (name, measured scenario, baseline scenario, goal)
RATIOS = (("thread / constant", THREAD, CONST_THREAD, 0.7),
          ("report / constant", REPORT, CONST_REPORT, 0.7),
          ("reply / insert", REPLY, INSERT, 0.5))
#: The largest constant body the baseline serves.
MAX_CONSTANT = 16 * 1024 * 1024
#: Seconds the server may take to start (record-free: the store is prepared beforehand).
STARTUP_TIMEOUT = 60.0
#: Seconds the server may take to stop after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 10.0


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# ==================================================================================
# Configuration
# ==================================================================================
@dataclass(frozen=True)
class Config:
    quick: bool
    rounds: int
    concurrency: int
    clients: int
    client: str
    warmup_seconds: float
    seconds: float
    max_requests: int
    thread_replies: int
    idempotency_keys: bool
    constant_sync: bool
    json_path: str | None
    workdir: str | None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the HTTP API against same-size baselines in the same server.")
    parser.add_argument("--quick", action="store_true", help="a smoke test, < 60 s")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--rounds", type=int, help="rounds of every scenario (default 3; "
                                                   "quick 1)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests in flight, over all clients (default 16)")
    parser.add_argument("--clients", type=int, default=1,
                        help="load-generating processes sharing the concurrency (default 1: "
                             "this process; see the README for why one is enough)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the load generator's HTTP client: a lean asyncio HTTP/1.1 client "
                             "(default) or httpx.AsyncClient (about 2 ms of CPU per request: "
                             "it saturates before the server does)")
    parser.add_argument("--seconds", type=float,
                        help="time limit of each measurement (default 8; quick 2)")
    parser.add_argument("--warmup", type=float,
                        help="seconds of untimed warm-up per scenario (default 1; quick 0.5)")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="request limit of each measurement (default 200000)")
    parser.add_argument("--thread-replies", type=int,
                        help="extra replies recorded in the outage thread before the run, so "
                             "its view has a realistic size (default 60; quick 20)")
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="send a fresh Idempotency-Key with every reply")
    parser.add_argument("--constant-sync", action="store_true",
                        help="serve the constant baseline from a plain def (thread pool) "
                             "instead of an async def")
    parser.add_argument("--workdir", help="folder for the SQLite files and the server log "
                                          "(default: a temporary folder, removed at the end)")
    # The server process: started by this script itself.
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-db", help=argparse.SUPPRESS)
    parser.add_argument("--serve-scratch", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    quick: bool = args.quick

    def pick(value: Any, full: Any, small: Any) -> Any:
        return value if value is not None else (small if quick else full)

    config = Config(
        quick=quick,
        rounds=int(pick(args.rounds, 3, 1)),
        concurrency=int(args.concurrency),
        clients=int(args.clients),
        client=str(args.client),
        warmup_seconds=float(pick(args.warmup, 1.0, 0.5)),
        seconds=float(pick(args.seconds, 8.0, 2.0)),
        max_requests=int(args.max_requests),
        thread_replies=int(pick(args.thread_replies, 60, 20)),
        idempotency_keys=bool(args.idempotency_keys),
        constant_sync=bool(args.constant_sync),
        json_path=args.json,
        workdir=args.workdir,
    )
    if not 1 <= config.rounds <= 20:
        raise SystemExit("--rounds must be between 1 and 20")
    if not 1 <= config.clients <= 8 or not config.clients <= config.concurrency <= 1024:
        raise SystemExit("--clients must be 1..8 and at most --concurrency (1..1024)")
    if not 0 < config.seconds <= 120 or not 0 <= config.warmup_seconds <= 30:
        raise SystemExit("--seconds must be in (0, 120] and --warmup in [0, 30]")
    if not 1 <= config.max_requests <= 10_000_000 or not 0 <= config.thread_replies <= 10_000:
        raise SystemExit("--max-requests must be 1..10000000, --thread-replies 0..10000")
    return config


# ==================================================================================
# The store
# ==================================================================================
@dataclass(frozen=True)
class Fixture:
    db_path: str
    scratch_path: str
    token: str
    outage_thread_id: str
    reply_post_id: str
    events: int
    outage_posts: int
    setup_seconds: float


def store_env(db_path: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db_path}


def prepare_store(folder: Path, thread_replies: int) -> Fixture:
    """The demo, ``thread_replies`` more replies in its outage thread, a member token."""
    from api.tokens import issue_token
    from ledger.application import DialogueLedger
    from ledger.demo import COMMUNITY_SLUG, record_demo
    from projections.queries import ViewReader
    from projections.runner import Projector

    assert COMMUNITY_SLUG == COMMUNITY
    started = time.perf_counter()
    db_path = str(folder / "ledger.db")
    app = DialogueLedger(store_env(db_path))
    try:
        summary = record_demo(app)
        projector = Projector(app)
        reader = ViewReader(projector)
        projector.catch_up()
        titles = {t["title"]: t["id"] for t in reader.threads(COMMUNITY, limit=500)["items"]}
        outage, welcome = titles[OUTAGE_TITLE], titles[WELCOME_TITLE]
        tree = reader.thread(outage)["posts"]
        opening = tree[0]["id"]
        latest = opening
        clock = app.clock  # the demo's story clock: the replies fall in the report's period
        for index in range(thread_replies):
            if hasattr(clock, "advance"):
                clock.advance(minutes=23)
            author = summary.people[WRITERS[index % len(WRITERS)]]
            parent = latest if index % 3 == 2 else opening  # some nested, most top-level
            latest = str(app.reply(UUID(parent), EXTRA_REPLIES[index % len(EXTRA_REPLIES)],
                                   actor_id=author).id)
        projector.catch_up()
        outage_posts = _count_posts(reader.thread(outage)["posts"])
        reply_post = reader.thread(welcome)["posts"][0]["id"]
        token, _ = issue_token(app, MEMBER, "member", "benchmarks/api.py")
        events = app.position
    finally:
        app.close()
    return Fixture(db_path=db_path, scratch_path=str(folder / "scratch.db"), token=token,
                   outage_thread_id=outage, reply_post_id=reply_post, events=events,
                   outage_posts=outage_posts, setup_seconds=time.perf_counter() - started)


def _count_posts(nodes: Sequence[dict[str, Any]]) -> int:
    return sum(1 + _count_posts(node["replies"]) for node in nodes)


# ==================================================================================
# The server process: the real app next to the baselines
# ==================================================================================
_CONSTANT_BODIES: dict[int, bytes] = {}


def constant_body(size: int) -> bytes:
    """orjson bytes of a JSON document exactly ``size`` bytes long (cached)."""
    body = _CONSTANT_BODIES.get(size)
    if body is None:
        empty = len(orjson.dumps({"data": ""}))
        body = orjson.dumps({"data": "x" * max(0, size - empty)})
        assert len(body) == max(size, empty)
        if len(_CONSTANT_BODIES) < 64:
            _CONSTANT_BODIES[size] = body
    return body


class InsertIn(BaseModel):
    """The bare insert's body: shaped like a reply's."""

    body: str = Field(min_length=1, max_length=20_000)
    kind: str = "comment"


class ScratchTable:
    """One SQLite connection to a scratch database, used one writer at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None
        self.synchronous = -1

    def open(self, synchronous: int) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={int(synchronous)}")
        connection.execute("CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, "
                           "body TEXT NOT NULL, at REAL NOT NULL)")
        self.synchronous = int(connection.execute("PRAGMA synchronous").fetchone()[0])
        self.connection = connection

    def insert(self, body: str) -> int:
        with self.lock:
            assert self.connection is not None
            cursor = self.connection.cursor()
            cursor.execute("BEGIN")
            try:
                cursor.execute("INSERT INTO scratch (body, at) VALUES (?, ?)",
                               (body, time.time()))
                rowid = int(cursor.lastrowid or 0)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            return rowid

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def build_server_app(db_path: str, scratch_path: str) -> Any:
    """The server's app: baselines under ``/_bench``, the real API everywhere else."""
    from fastapi import FastAPI, Query
    from starlette.responses import Response

    from api.app import create_app

    real = create_app(store_env(db_path))
    scratch = ScratchTable(scratch_path)
    info: dict[str, Any] = {"pid": os.getpid()}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The dispatcher sends the lifespan here: run the real app's too.
        async with real.router.lifespan_context(real):
            datastore = real.state.services.ledger.recorder.datastore
            with datastore.transaction(commit=False) as cursor:
                cursor.execute("PRAGMA synchronous")
                ledger_synchronous = int(cursor.fetchone()[0])
                cursor.execute("PRAGMA journal_mode")
                info["ledger_journal_mode"] = str(cursor.fetchone()[0])
            info["ledger_synchronous"] = ledger_synchronous
            scratch.open(ledger_synchronous)
            info["scratch_synchronous"] = scratch.synchronous
            try:
                yield
            finally:
                scratch.close()

    bench = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @bench.get("/_bench/info")
    async def bench_info() -> Response:
        return Response(orjson.dumps(info), media_type="application/json")

    @bench.get("/_bench/constant")
    async def constant(size: int = Query(ge=0, le=MAX_CONSTANT)) -> Response:
        return Response(constant_body(size), media_type="application/json")

    @bench.get("/_bench/constant-sync")
    def constant_sync(size: int = Query(ge=0, le=MAX_CONSTANT)) -> Response:
        return Response(constant_body(size), media_type="application/json")

    @bench.post("/_bench/insert", status_code=201)
    def insert(body: InsertIn) -> Response:
        rowid = scratch.insert(body.body)
        return Response(orjson.dumps({"id": rowid, "position": rowid, "replayed": False}),
                        status_code=201, media_type="application/json")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``/_bench/…`` and the lifespan to the baselines' app; the rest straight to the
        real app, as ``dialogue-ledger serve`` serves it (a mount would add a second
        Starlette stack in front of it)."""
        if scope["type"] == "lifespan" or scope["path"].startswith("/_bench/"):
            await bench(scope, receive, send)
        else:
            await real(scope, receive, send)

    return app


def serve(fd: int, db_path: str, scratch_path: str) -> int:
    """Run the server's app under uvicorn on the listening socket inherited as ``fd``."""
    import uvicorn

    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(build_server_app(db_path, scratch_path), workers=1,
                            log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def cpu_seconds(self) -> float:
        """The server's CPU seconds: its own and its descendants' (the command process that
        runs its commands and projector, and the fork server that starts it)."""
        own, *others = (process_cpu_seconds(pid) for pid in process_tree(self.process.pid))
        return own + sum(seconds for seconds in others if seconds == seconds)  # gone: NaN

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def process_tree(pid: int) -> list[int]:
    """A process and its living descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry.name)] = int(fields[1])
    tree = [pid]
    for member in tree:
        tree.extend(child for child, parent in parents.items() if parent == member)
    return tree


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, from /proc (NaN where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def running_server(fixture: Fixture, folder: Path) -> Iterator[Server]:
    """Start the server process; it is always stopped when the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))  # loopback only; the kernel picks a free port
    listener.listen(2048)
    port = listener.getsockname()[1]
    log_path = folder / "server.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-fd",
               str(listener.fileno()), "--serve-db", fixture.db_path,
               "--serve-scratch", fixture.scratch_path]
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(command, pass_fds=(listener.fileno(),),
                                       stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        listener.close()  # the server holds its own copy
        server = Server(process=process, url=f"http://{HOST}:{port}", log_path=log_path)
        wait_until_ready(server)
        yield server
    finally:
        listener.close()
        if process is not None:
            stop_process(process)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError("the server exited during start-up:\n" + server.log_tail())
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {STARTUP_TIMEOUT:.0f} s:\n"
                       + server.log_tail())


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_TIMEOUT)


# ==================================================================================
# The load generator
# ==================================================================================
@dataclass(frozen=True)
class Request:
    method: str
    path: str
    expected: int
    headers: tuple[tuple[str, str], ...] = ()
    json_body: bytes | None = None
    idempotency: bool = False


@dataclass
class Load:
    """What one client process measured."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


class RawHttpConnection:
    """A keep-alive HTTP/1.1 connection that sends pre-built requests and reads each
    response whole (Content-Length or chunked). Much cheaper per request than httpx, so one
    client process can keep a one-worker server saturated on a 2-core machine."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        """Send ``payload``; answer the status and the body."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        body = b""
        close = b"\r\nconnection: close" in lower
        marker = lower.find(b"\r\ncontent-length:")
        if marker >= 0:
            end = lower.index(b"\r\n", marker + 2)
            body = await self.reader.readexactly(int(lower[marker + 17:end]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            chunks = []
            for _ in range(1_000_000):
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append((await self.reader.readexactly(size + 2))[:size])
                if size == 0:
                    break
            body = b"".join(chunks)
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


def raw_payload(request: Request, host: str, key: str | None) -> bytes:
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}",
             *(f"{name}: {value}" for name, value in request.headers)]
    if key is not None:
        lines.append(f"Idempotency-Key: {key}")
    body = request.json_body or b""
    if request.json_body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def drive(base_url: str, request: Request, concurrency: int, max_requests: int,
                max_seconds: float, client_kind: str, start_at: float | None = None) -> Load:
    """``concurrency`` workers send ``request`` back to back, each on its own keep-alive
    connection, until ``max_requests`` were sent or ``max_seconds`` passed."""
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the load generator only talks to loopback addresses")
    load = Load()
    sent = 0
    payload = raw_payload(request, f"{host}:{port}", None)
    headers = dict(request.headers)
    if request.json_body is not None:
        headers["Content-Type"] = "application/json"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0,
                                 headers=headers) as client:
        connections = [RawHttpConnection(host, port) for _ in range(concurrency)]
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu_before = time.process_time()
        started = time.perf_counter()
        deadline = started + max_seconds

        async def send_raw(number: int, key: str | None) -> tuple[int, str]:
            connection = connections[number]
            data = payload if key is None else raw_payload(request, f"{host}:{port}", key)
            try:
                status, body = await asyncio.wait_for(connection.request(data), timeout=30.0)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError) as error:
                await connection.close()
                return 0, f"{type(error).__name__}: {error}"[:200]
            return status, body[:200].decode(errors="replace")

        async def send_httpx(key: str | None) -> tuple[int, str]:
            extra = {"Idempotency-Key": key} if key is not None else None
            try:
                response = await client.request(request.method, request.path,
                                                content=request.json_body, headers=extra)
            except httpx.HTTPError as error:
                return 0, f"{type(error).__name__}: {error}"[:200]
            return response.status_code, response.text[:200]

        async def worker(number: int) -> None:
            nonlocal sent
            while sent < max_requests and time.perf_counter() < deadline:
                sent += 1
                key = f"bench-{os.getpid()}-{number}-{sent}" if request.idempotency else None
                began = time.perf_counter()
                if client_kind == "raw":
                    status, detail = await send_raw(number, key)
                else:
                    status, detail = await send_httpx(key)
                load.latencies.append(time.perf_counter() - began)
                load.requests += 1
                if status != request.expected:
                    load.errors += 1
                    if len(load.error_samples) < 5:
                        load.error_samples.append(f"{status} {detail}".strip())

        try:
            await asyncio.gather(*(worker(n) for n in range(concurrency)))
        finally:
            load.seconds = time.perf_counter() - started
            load.cpu_seconds = time.process_time() - cpu_before
            for connection in connections:
                await connection.close()
    return load


def drive_in_process(base_url: str, request: Request, concurrency: int, max_requests: int,
                     max_seconds: float, client_kind: str, start_at: float | None) -> Load:
    """One client process's share (also the entry point of ``--clients`` workers)."""
    return asyncio.run(drive(base_url, request, concurrency, max_requests, max_seconds,
                             client_kind, start_at))


class LoadGenerator:
    """This process, or a pool of ``clients`` worker processes."""

    def __init__(self, base_url: str, concurrency: int, clients: int,
                 client_kind: str) -> None:
        self.base_url = base_url
        self.client_kind = client_kind
        self.concurrency = concurrency
        self.clients = clients
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        if clients > 1:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=clients, mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, request: Request, max_requests: int, max_seconds: float) -> Load:
        if self.pool is None:
            return drive_in_process(self.base_url, request, self.concurrency, max_requests,
                                    max_seconds, self.client_kind, None)
        start_at = time.time() + 0.3
        shares = [self.concurrency // self.clients + (1 if i < self.concurrency % self.clients
                                                       else 0) for i in range(self.clients)]
        futures = [self.pool.submit(drive_in_process, self.base_url, request, share,
                                    max(1, max_requests // self.clients), max_seconds,
                                    self.client_kind, start_at) for share in shares]
        parts = [f.result(timeout=max_seconds + 120) for f in futures]
        merged = Load(seconds=max(p.seconds for p in parts))
        for part in parts:
            merged.requests += part.requests
            merged.errors += part.errors
            merged.cpu_seconds += part.cpu_seconds
            merged.latencies += part.latencies
            merged.error_samples += part.error_samples[: 5 - len(merged.error_samples)]
        return merged


# ==================================================================================
# Scenarios and results
# ==================================================================================
@dataclass
class Sample:
    scenario: str
    round: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    body_bytes: int
    server_cores: float
    client_cores: float
    load_average: float
    error_samples: list[str]


def load_average() -> float:
    """The machine's 1-minute load average (NaN where unknown): other work competes."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def scenario_requests(fixture: Fixture, sizes: dict[str, int], config: Config,
                      ) -> dict[str, Request]:
    auth = (("Authorization", f"Bearer {fixture.token}"),)
    constant = "/_bench/constant-sync" if config.constant_sync else "/_bench/constant"
    reply = orjson.dumps({"body": REPLY_BODY, "kind": "comment"})
    return {
        THREAD: Request("GET", f"/threads/{fixture.outage_thread_id}", 200, auth),
        REPORT: Request("GET", REPORT_PATH, 200, auth),
        CONST_THREAD: Request("GET", f"{constant}?size={sizes[THREAD]}", 200),
        CONST_REPORT: Request("GET", f"{constant}?size={sizes[REPORT]}", 200),
        REPLY: Request("POST", f"/posts/{fixture.reply_post_id}/replies", 201, auth, reply,
                       idempotency=config.idempotency_keys),
        INSERT: Request("POST", "/_bench/insert", 201, (), reply),
    }


def measure_sizes(server: Server, fixture: Fixture) -> dict[str, int]:
    """The body sizes of the thread view and the report, as served now."""
    headers = {"Authorization": f"Bearer {fixture.token}"}
    sizes: dict[str, int] = {}
    with httpx.Client(base_url=server.url, timeout=30.0, headers=headers) as client:
        for name, path in ((THREAD, f"/threads/{fixture.outage_thread_id}"),
                           (REPORT, REPORT_PATH)):
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
            sizes[name] = len(response.content)
    return sizes


def run_scenario(server: Server, generator: LoadGenerator, name: str, request: Request,
                 config: Config, round_number: int, body: int) -> Sample:
    if config.warmup_seconds > 0:
        generator.run(request, config.max_requests, config.warmup_seconds)
    server_before = server.cpu_seconds()
    load = generator.run(request, config.max_requests, config.seconds)
    server_cpu = server.cpu_seconds() - server_before
    seconds = max(load.seconds, 1e-9)
    sample = Sample(
        scenario=name, round=round_number, requests=load.requests, errors=load.errors,
        seconds=load.seconds, rps=load.requests / seconds,
        p50_ms=percentile(load.latencies, 0.50) * 1000,
        p99_ms=percentile(load.latencies, 0.99) * 1000, body_bytes=body,
        server_cores=server_cpu / seconds, client_cores=load.cpu_seconds / seconds,
        load_average=load_average(), error_samples=load.error_samples)
    log(f"  round {round_number}  {name:<28} {sample.rps:9.1f} req/s  "
        f"p50 {sample.p50_ms:7.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
        f"errors {sample.errors}  server {sample.server_cores:.2f} / "
        f"client {sample.client_cores:.2f} cores  load {sample.load_average:.1f}")
    for problem in load.error_samples[:2]:
        log(f"      e.g. {problem}")
    return sample


def run_rounds(server: Server, fixture: Fixture, config: Config) -> tuple[list[Sample],
                                                                           dict[str, int]]:
    samples: list[Sample] = []
    generator = LoadGenerator(server.url, config.concurrency, config.clients, config.client)
    try:
        sizes = measure_sizes(server, fixture)
        log(f"bodies: thread view {sizes[THREAD]} bytes, report {sizes[REPORT]} bytes")
        requests = scenario_requests(fixture, sizes, config)
        bodies = {THREAD: sizes[THREAD], CONST_THREAD: sizes[THREAD], REPORT: sizes[REPORT],
                  CONST_REPORT: sizes[REPORT], REPLY: len(requests[REPLY].json_body or b""),
                  INSERT: len(requests[INSERT].json_body or b"")}
        # Reads first: the replies recorded later must not change what they return.
        for phase in (READS, WRITES):
            for round_number in range(1, config.rounds + 1):
                order = list(phase)
                if round_number % 2 == 0:  # flip each pair: baseline first every other round
                    order = [order[i ^ 1] for i in range(len(order))]
                for name in order:
                    samples.append(run_scenario(server, generator, name, requests[name],
                                                config, round_number, bodies[name]))
            if phase is READS:  # the report's "now" may change its length by a byte or two
                after = measure_sizes(server, fixture)
                if any(abs(after[k] - sizes[k]) > 0.02 * sizes[k] for k in sizes):
                    log(f"warning: the read bodies changed size during the reads: {after}")
    finally:
        generator.close()
    return samples, sizes


def summarise(samples: list[Sample], rounds: int) -> dict[str, Any]:
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.scenario, []).append(sample)
    scenarios: dict[str, dict[str, Any]] = {
        name: {
            "rps": statistics.median(s.rps for s in group),
            "p50_ms": statistics.median(s.p50_ms for s in group),
            "p99_ms": statistics.median(s.p99_ms for s in group),
            "errors": sum(s.errors for s in group),
            "requests": sum(s.requests for s in group),
            "body_bytes": group[-1].body_bytes,
            "server_cores": statistics.median(s.server_cores for s in group),
            "client_cores": statistics.median(s.client_cores for s in group),
            "load_average": max(s.load_average for s in group),
            "rps_by_round": [round(s.rps, 1) for s in group],
        } for name, group in by_name.items()}
    ratios = {}
    for label, measured, baseline, goal in RATIOS:
        per_round = []
        for number in range(1, rounds + 1):
            top = [s.rps for s in by_name.get(measured, []) if s.round == number]
            bottom = [s.rps for s in by_name.get(baseline, []) if s.round == number]
            if top and bottom and bottom[0] > 0:
                per_round.append(top[0] / bottom[0])
        value = statistics.median(per_round) if per_round else float("nan")
        errors = sum(int(scenarios.get(n, {}).get("errors", 0)) for n in (measured, baseline))
        ratios[label] = {"ratio": value, "goal": goal, "by_round": per_round,
                         "passed": bool(value >= goal and errors == 0)}
    return {"scenarios": scenarios, "ratios": ratios}


def print_report(summary: dict[str, Any], fixture: Fixture, config: Config,
                 info: dict[str, Any]) -> None:
    print(f"\nHTTP API benchmark: uvicorn, 1 worker, {HOST}; {config.clients} client "
          f"process(es), concurrency {config.concurrency}, {config.rounds} round(s) of "
          f"{config.seconds:g} s per scenario (medians over rounds)")
    print(f"store: SQLite, {fixture.events} events; outage thread {fixture.outage_posts} "
          f"posts; synchronous={info.get('ledger_synchronous')} "
          f"(scratch {info.get('scratch_synchronous')}), "
          f"journal={info.get('ledger_journal_mode')}; {os.cpu_count()} CPUs\n")
    header = (f"{'scenario':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'bytes':>8} {'server':>7} {'client':>7}")
    print(header)
    print("-" * len(header))
    for name in (*READS, *WRITES):
        row = summary["scenarios"].get(name)
        if row is None:
            continue
        print(f"{name:<28} {row['rps']:9.1f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
              f"{row['errors']:7d} {row['body_bytes']:8d} {row['server_cores']:7.2f} "
              f"{row['client_cores']:7.2f}")
    print("(server / client: CPU cores used by the server (its process and the command "
          "process it starts) / the load generator)")
    loads = [row["load_average"] for row in summary["scenarios"].values()]
    cpus = os.cpu_count() or 1
    print(f"load average during the run: {min(loads):.1f} to {max(loads):.1f} on {cpus} CPUs"
          + ("  (other work competed for the CPUs: absolute figures are low, ratios are "
             "interleaved)" if max(loads) > cpus + 0.5 else "") + "\n")
    for label, row in summary["ratios"].items():
        rounds = ", ".join(f"{r:.2f}" for r in row["by_round"])
        print(f"{label:<20} {row['ratio']:6.2f}x   goal >= {row['goal']:.1f}x   "
              f"{'PASS' if row['passed'] else 'MISS'}   (rounds: {rounds})")


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("fastapi", "starlette", "uvicorn", "httpx", "orjson", "eventsourcing",
                    "uvloop", "httptools"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "packages": versions}


# ==================================================================================
# Main
# ==================================================================================
def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_fd is not None:
        return serve(args.serve_fd, args.serve_db, args.serve_scratch)
    config = make_config(args)
    # A SIGTERM unwinds like Ctrl-C, so the server is stopped and the folder removed.
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    folder = Path(config.workdir or tempfile.mkdtemp(prefix="dl-api-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        log(f"recording the demo and {config.thread_replies} more replies in {folder} ...")
        fixture = prepare_store(folder, config.thread_replies)
        log(f"  {fixture.events} events in {fixture.setup_seconds:.1f} s")
        with running_server(fixture, folder) as server:
            log(f"server {server.url} (pid {server.process.pid})")
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                info: dict[str, Any] = client.get("/_bench/info").json()
            samples, sizes = run_rounds(server, fixture, config)
        summary = summarise(samples, config.rounds)
        print_report(summary, fixture, config, info)
        elapsed = time.perf_counter() - started
        log(f"\ntotal {elapsed:.0f} s")
        if config.json_path:
            document = {
                "benchmark": "benchmarks/api.py", "config": asdict(config),
                "environment": environment(), "server": info,
                "fixture": {k: v for k, v in asdict(fixture).items() if k != "token"},
                "sizes": sizes, "summary": summary,
                "samples": [asdict(s) for s in samples], "seconds": elapsed,
            }
            Path(config.json_path).write_bytes(orjson.dumps(
                document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
            log(f"results written to {config.json_path}")
    finally:
        if config.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
