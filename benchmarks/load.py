#!/usr/bin/env python
"""Load benchmark for the scale-out deployment (issue 6).

1. Commands/s and p50/p99 latency of ``POST /posts/{id}/replies`` with 1, 4 and 8 concurrent
   clients (separate client processes, one request in flight each, keep-alive httpx clients,
   unique ``Idempotency-Key``s) over loopback:

   - on PostgreSQL: ``--api-processes`` API processes (``serve --projector none``, one port
     each; the clients are spread over them) and one projection worker (``project``);
   - on SQLite: one ``serve`` process that projects in-process.

   Afterwards every acknowledged command is counted in the ledger (exactly once each: nothing
   lost, nothing doubled) and the time the worker needs to catch up is measured.
2. With ``--pg-events N`` (default 200,000): a ledger of N events on PostgreSQL, built in bulk
   (``benchmarks/workload.py``), then the time to rebuild every view blue/green
   (``Projector.rebuild_blue_green``, what ``dialogue-ledger rebuild`` does) and the time to
   compute the listen-and-respond report over it (``ListeningReport.compute``).

Goal: 8 clients achieve at least the throughput of 1, with nothing lost.

    .venv/bin/python benchmarks/load.py --quick          # < 60 s
    .venv/bin/python benchmarks/load.py                  # 10 s per scenario, 200k events
    .venv/bin/python benchmarks/load.py --pg-events 1000000 --json /tmp/load.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))  # after the project: benchmarks/api.py is no `api`

HOST = "127.0.0.1"
HANDLES = ("ruth", "jonas", "priya", "amara", "felix", "sofia", "kenji", "omar")
PG = {"POSTGRES_DBNAME": os.environ.get("TEST_POSTGRES_DBNAME", "test"),
      "POSTGRES_HOST": os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
      "POSTGRES_PORT": os.environ.get("TEST_POSTGRES_PORT", "5432"),
      "POSTGRES_USER": os.environ.get("TEST_POSTGRES_USER", "postgres"),
      "POSTGRES_PASSWORD": os.environ.get("TEST_POSTGRES_PASSWORD", "")}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- stores and processes ------------------------------------------------------------------
def _pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(dbname=PG["POSTGRES_DBNAME"], host=PG["POSTGRES_HOST"],
                         port=PG["POSTGRES_PORT"], user=PG["POSTGRES_USER"],
                         password=PG["POSTGRES_PASSWORD"] or None, autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute(statement)


@contextmanager
def store(kind: str, folder: Path) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(folder / f"load-{uuid.uuid4().hex[:6]}.db")}
        return
    schema = f"load_{uuid.uuid4().hex[:10]}"
    _pg_admin(f"CREATE SCHEMA {schema}")
    try:
        yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG, "POSTGRES_SCHEMA": schema}
    finally:
        _pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def spawned(args: Sequence[str], env: dict[str, str], log_path: Path,
            port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A ``dialogue-ledger`` subprocess, healthy (if it serves) within 60 s, killed at the
    end whatever happens."""
    import httpx

    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_"))}
    full_env.update(env)
    full_env["PYTHONUNBUFFERED"] = "1"
    with log_path.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "ledger.cli", *args], env=full_env,
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        if port is not None:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{args[0]} exited: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer in 60 s: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# --- the world -----------------------------------------------------------------------------
@dataclass
class World:
    tokens: list[str]
    parent: str  # the opening post the clients reply to


def prepare(env: dict[str, str]) -> World:
    from api.tokens import issue_token
    from ledger.application import DialogueLedger
    from ledger.demo import COMMUNITY_SLUG, record_demo
    from ledger.domain import PostKind
    from ledger.domain.base import opening_post_id
    from projections.runner import Projector

    app = DialogueLedger(env)
    try:
        record_demo(app)
    finally:
        app.close()
    app = DialogueLedger(env)
    try:
        tokens = [issue_token(app, h, "member")[0] for h in HANDLES]
        thread = app.open_thread(app.community_id(COMMUNITY_SLUG), PostKind.QUESTION,
                                 "Load", "Replies under load", actor_id=app.person_id("maya"))
        Projector(app).catch_up()  # the views exist and are current before any process starts
        return World(tokens, str(opening_post_id(thread.id)))
    finally:
        app.close()


# --- the clients (separate processes) ------------------------------------------------------
def client_main(url: str, token: str, parent: str, prefix: str, start_at: float,
                end_at: float, max_requests: int) -> dict[str, Any]:
    """Closed loop, one request in flight: warm up until ``start_at`` (not timed), measure
    until ``end_at``. Retries a key on connection errors and 503 (bounded)."""
    import httpx

    latencies: list[float] = []
    acked: list[str] = []
    errors: Counter[str] = Counter()
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(max_requests):
            now = time.time()
            if now >= end_at:
                break
            key = f"{prefix}-{i}"
            began = time.perf_counter()
            ok = False
            for _attempt in range(5):
                try:
                    answer = client.post(f"/posts/{parent}/replies", json={"body": key},
                                         headers={"Idempotency-Key": key})
                except httpx.TransportError as error:
                    errors[type(error).__name__] += 1
                    continue
                if answer.status_code == 503:
                    errors["503"] += 1
                    time.sleep(0.05)
                    continue
                if 200 <= answer.status_code < 300:
                    ok = True
                else:
                    errors[str(answer.status_code)] += 1
                break
            took = time.perf_counter() - began
            if ok:
                acked.append(key)
                if now >= start_at:
                    latencies.append(took)
    return {"latencies": latencies, "acked": acked, "errors": dict(errors)}


def _client_entry(args: tuple[str, str, str, str, float, float, int]) -> dict[str, Any]:
    return client_main(*args)


@dataclass
class Scenario:
    store: str
    clients: int
    seconds: float
    commands: int
    commands_per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_scenario(pool: Any, store_name: str, urls: Sequence[str], world: World, clients: int,
                 seconds: float, run_id: str) -> tuple[Scenario, list[str]]:
    start_at = time.time() + 1.5  # warm-up: connections, first requests
    end_at = start_at + seconds
    jobs = [(urls[j % len(urls)], world.tokens[j % len(world.tokens)], world.parent,
             f"{run_id}-{clients}-{j}", start_at, end_at, 1_000_000) for j in range(clients)]
    results = pool.map(_client_entry, jobs, chunksize=1)
    latencies = [x for r in results for x in r["latencies"]]
    acked = [k for r in results for k in r["acked"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    scenario = Scenario(store_name, clients, seconds, len(latencies), len(latencies) / seconds,
                        percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000,
                        dict(errors))
    log(f"[{store_name}] {clients} client(s): {scenario.commands_per_s:.0f} commands/s, "
        f"p50 {scenario.p50_ms:.1f} ms, p99 {scenario.p99_ms:.1f} ms"
        + (f", errors {dict(errors)}" if errors else ""))
    return scenario, acked


def count_commands(env: dict[str, str], run_id: str) -> tuple[Counter[str], int]:
    """Reply events per Idempotency-Key of this run, and the ledger's head."""
    import orjson

    from ledger.application import DialogueLedger

    app = DialogueLedger(env)
    try:
        found: Counter[str] = Counter()
        start = 1
        for _ in range(100_000):
            page = app.recorder.select_notifications(start=start, limit=5_000)
            if not page:
                break
            for n in page:
                if n.topic.endswith(":Post.Published"):
                    command_id = orjson.loads(n.state)["act"].get("command_id") or ""
                    if f":{run_id}-" in command_id:
                        found[command_id.split(":", 2)[2]] += 1
            start = page[-1].id + 1
        return found, app.position
    finally:
        app.close()


def wait_for_views(env: dict[str, str], seconds: float = 120) -> float:
    """Seconds until the views reach the ledger's head (the worker's lag after the load)."""
    from ledger.application import DialogueLedger
    from projections.runner import Projector

    app = DialogueLedger(env)
    try:
        projector = Projector(app)
        head = app.position
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            projector.refresh()
            if projector.position >= head:
                return time.monotonic() - began
            time.sleep(0.05)
        raise RuntimeError(f"views at {projector.position} of {head} after {seconds} s")
    finally:
        app.close()


def throughput(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    run_id = f"load{uuid.uuid4().hex[:6]}"
    with store(kind, folder) as env, ExitStack() as stack:
        world = prepare(env)
        urls: list[str] = []
        if kind == "postgres":
            for i in range(args.api_processes):
                port = free_port()
                stack.enter_context(spawned(
                    ["serve", "--host", HOST, "--port", str(port), "--projector", "none",
                     "--log-level", "warning"], env, folder / f"{kind}-api{i}.log", port))
                urls.append(f"http://{HOST}:{port}")
            stack.enter_context(spawned(["project"], env, folder / f"{kind}-worker.log"))
        else:
            port = free_port()
            stack.enter_context(spawned(
                ["serve", "--host", HOST, "--port", str(port), "--log-level", "warning"],
                env, folder / f"{kind}-api.log", port))
            urls.append(f"http://{HOST}:{port}")
        pool = stack.enter_context(ctx.Pool(max(args.clients)))
        scenarios: list[Scenario] = []
        acked: list[str] = []
        for clients in args.clients:
            scenario, keys = run_scenario(pool, kind, urls, world, clients, args.seconds,
                                          run_id)
            scenarios.append(scenario)
            acked.extend(keys)
        lag = wait_for_views(env)
        found, head = count_commands(env, run_id)
    lost = [k for k in acked if found[k] == 0]
    doubled = [k for k, n in found.items() if n > 1]
    unacked = [k for k in found if k not in set(acked)]
    log(f"[{kind}] {len(acked)} acknowledged, {sum(found.values())} recorded, "
        f"{len(lost)} lost, {len(doubled)} doubled; views caught up {lag:.2f} s after the load")
    one = next((s.commands_per_s for s in scenarios if s.clients == 1), None)
    eight = next((s.commands_per_s for s in scenarios if s.clients == max(args.clients)), None)
    return {"store": kind, "api_processes": len(urls) if kind == "postgres" else 1,
            "scenarios": [asdict(s) for s in scenarios], "acknowledged": len(acked),
            "recorded": sum(found.values()), "lost": len(lost), "doubled": len(doubled),
            "recorded_unacknowledged": len(unacked), "ledger_events": head,
            "views_catch_up_s": lag,
            "goal_met": bool(one and eight and eight >= one and not lost and not doubled)}


# --- the big ledger ------------------------------------------------------------------------
def big_ledger(events: int, folder: Path) -> dict[str, Any]:
    from workload import build

    from ledger.application import DialogueLedger
    from projections.report import ListeningReport, ReportRequest, default_period
    from projections.runner import Projector

    with store("postgres", folder) as env:
        app = DialogueLedger(env)
        try:
            began = time.perf_counter()
            community, _members = build(app, events)
            built = time.perf_counter() - began
            log(f"[postgres] built {app.position:,} events in {built:.1f} s")
            projector = Projector(app)  # generation 0, empty: the rebuild fills generation 1
            began = time.perf_counter()
            projector.rebuild_blue_green()
            rebuild = time.perf_counter() - began
            log(f"[postgres] rebuilt every view (blue/green) in {rebuild:.1f} s "
                f"({app.position / rebuild:,.0f} events/s)")
            start, end = default_period(datetime.now(tz=UTC))
            request = ReportRequest(community_ids=(str(community),), start=start, end=end)
            times = []
            report: dict[str, Any] = {}
            for _ in range(3):
                began = time.perf_counter()
                report = ListeningReport(projector).compute(request)
                times.append(time.perf_counter() - began)
            log(f"[postgres] listen-and-respond report in {statistics.median(times):.2f} s "
                f"(median of 3; {min(times):.2f}-{max(times):.2f})")
            return {"events": app.position, "build_s": built, "rebuild_s": rebuild,
                    "rebuild_events_per_s": app.position / rebuild,
                    "report_s": statistics.median(times), "report_s_all": times,
                    "report_member_posts": report["period"].get("member_posts")}
        finally:
            app.close()


# --- main ----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="3 s per scenario and a 20,000-event ledger (under a minute)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="measured seconds per scenario (10; 3 with --quick)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--api-processes", type=int, default=2,
                        help="API processes on PostgreSQL")
    parser.add_argument("--pg-events", type=int, default=None,
                        help="events in the big PostgreSQL ledger (200,000; 20,000 with "
                             "--quick; 0 to skip)")
    parser.add_argument("--stores", nargs="+", choices=("postgres", "sqlite"),
                        default=["postgres", "sqlite"])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 3.0 if args.quick else 10.0
    if args.pg_events is None:
        args.pg_events = 20_000 if args.quick else 200_000
    if min(args.clients) < 1 or args.api_processes < 1:
        parser.error("--clients and --api-processes must be at least 1")
    return args


def print_report(result: dict[str, Any]) -> None:
    print(f"Scale-out load benchmark ({result['machine']}; {result['seconds']:.0f} s per "
          "scenario, closed loop, one request in flight per client process)\n")
    print("| store | API processes | clients | commands/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for run in result["throughput"]:
        for s in run["scenarios"]:
            print(f"| {s['store']} | {run['api_processes']} | {s['clients']} | "
                  f"{s['commands_per_s']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
                  f"{sum(s['errors'].values())} |")
    for run in result["throughput"]:
        print(f"\n{run['store']}: {run['acknowledged']} acknowledged, {run['recorded']} "
              f"recorded, {run['lost']} lost, {run['doubled']} doubled; views caught up "
              f"{run['views_catch_up_s']:.2f} s after the load; goal (8 clients >= 1, "
              f"nothing lost): {'met' if run['goal_met'] else 'NOT met'}")
    big = result.get("big_ledger")
    if big:
        print(f"\nPostgreSQL ledger of {big['events']:,} events (built in bulk in "
              f"{big['build_s']:.0f} s): rebuild of every view (blue/green) "
              f"{big['rebuild_s']:.1f} s ({big['rebuild_events_per_s']:,.0f} events/s); "
              f"listen-and-respond report {big['report_s']:.2f} s")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
        "seconds": args.seconds, "throughput": []}
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        folder = Path(tmp)
        try:
            for kind in args.stores:
                result["throughput"].append(throughput(kind, args, folder))
            if args.pg_events > 0:
                result["big_ledger"] = big_ledger(args.pg_events, folder)
        except BaseException:
            for logged in sorted(folder.glob("*.log")):
                log(f"--- {logged.name}\n{logged.read_text(errors='replace')[-1500:]}")
            raise
    result["total_s"] = time.perf_counter() - began
    print_report(result)
    print(f"\n(total {result['total_s']:.0f} s)")
    if args.json:
        import orjson

        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0 if all(r["goal_met"] for r in result["throughput"]) else 1


if __name__ == "__main__":
    sys.exit(main())
