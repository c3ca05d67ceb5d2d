"""Projection benchmarks (issue 3).

1. Rebuild throughput: every view rebuilt from an empty database, in events/s, beside the raw
   rate at which the same events are read from the events table and decoded with orjson, in
   the same run (goal: at least 0.5x the raw rate).
2. Read-your-writes on SQLite: a command, then ``Projector.wait(receipt.position)`` with the
   projector following in the same process; p50 and p99 of the wait (goal: p99 <= 50 ms).

    python benchmarks/rebuild.py [--events N] [--store sqlite|postgres|both] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import build

from ledger.application import DialogueLedger
from ledger.domain import PostKind, Thread
from projections.runner import Projector

PG = {"POSTGRES_DBNAME": "test", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432",
      "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": ""}


@contextmanager
def store(kind: str) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                   "SQLITE_DBNAME": str(Path(folder) / "bench.db")}
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="test", host="127.0.0.1", user="postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG, "POSTGRES_SCHEMA": schema}
    finally:
        with psycopg.connect(dbname="test", host="127.0.0.1", user="postgres",
                             autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def raw_rate(app: DialogueLedger) -> float:
    """Events/s to read every stored event and decode its state with orjson."""
    started = time.perf_counter()
    position, total = 0, 0
    while True:
        rows = app.recorder.select_notifications(start=position + 1, limit=2_000)
        if not rows:
            break
        for row in rows:
            orjson.loads(row.state)
        total += len(rows)
        position = rows[-1].id
    return total / (time.perf_counter() - started)


def rebuild_rate(app: DialogueLedger) -> float:
    projector = Projector(app, prefix="bench_")
    started = time.perf_counter()
    projector.rebuild()
    elapsed = time.perf_counter() - started
    for store_ in projector.stores:
        store_.drop_tables()
    return app.position / elapsed


def read_your_writes(app: DialogueLedger, community: Any, members: list[Any],
                     samples: int) -> list[float]:
    projector = Projector(app)
    projector.catch_up()
    waits: list[float] = []
    thread = app.open_thread(community, PostKind.QUESTION, "RYW", "Waiting",
                             actor_id=members[1]).id
    opening = app.get(Thread, thread).opening_post_id
    with projector:
        for i in range(samples):
            receipt = app.reply(opening, f"reply {i}", actor_id=members[i % 20])
            started = time.perf_counter()
            if not projector.wait(receipt.position, timeout=5):
                raise RuntimeError("the views did not catch up within 5 s")
            waits.append(time.perf_counter() - started)
    return waits


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(kind: str, events: int, rounds: int, samples: int) -> dict[str, Any]:
    with store(kind) as env:
        app = DialogueLedger(env)
        try:
            started = time.perf_counter()
            community, members = build(app, events)
            print(f"[{kind}] built {app.position:,} events in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            raws, rebuilds = [], []
            for _ in range(rounds):  # interleaved, medians: the machine is noisy
                raws.append(raw_rate(app))
                rebuilds.append(rebuild_rate(app))
            result: dict[str, Any] = {
                "store": kind, "events": app.position,
                "raw_events_per_s": statistics.median(raws),
                "rebuild_events_per_s": statistics.median(rebuilds)}
            result["ratio"] = result["rebuild_events_per_s"] / result["raw_events_per_s"]
            if kind == "sqlite":
                waits = read_your_writes(app, community, members, samples)
                result["ryw_p50_ms"] = quantile(waits, 0.5) * 1e3
                result["ryw_p99_ms"] = quantile(waits, 0.99) * 1e3
            return result
        finally:
            app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rounds, args.samples = 10_000, 1, 100
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    results = [run(kind, args.events, args.rounds, args.samples) for kind in kinds]
    print(f"\n{'store':<9} {'events':>9} {'raw ev/s':>10} {'rebuild ev/s':>13} "
          f"{'ratio':>6}  goal >= 0.5")
    for r in results:
        print(f"{r['store']:<9} {r['events']:>9,} {r['raw_events_per_s']:>10,.0f} "
              f"{r['rebuild_events_per_s']:>13,.0f} {r['ratio']:>6.2f}  "
              f"{'PASS' if r['ratio'] >= 0.5 else 'MISS'}")
    for r in results:
        if "ryw_p50_ms" in r:
            print(f"read-your-writes on {r['store']}: p50 {r['ryw_p50_ms']:.2f} ms, "
                  f"p99 {r['ryw_p99_ms']:.2f} ms  (goal p99 <= 50 ms: "
                  f"{'PASS' if r['ryw_p99_ms'] <= 50 else 'MISS'})")
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
