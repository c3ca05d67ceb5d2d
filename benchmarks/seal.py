#!/usr/bin/env python
"""Benchmarks of tamper evidence on a large ledger: sealing throughput, incremental sealing,
checkpoints, full verification, proofs, and the event log's export and import.

The ledger is built quickly: the demo dialogue is recorded once through the commands, then its
stored events are copied, each copy under fresh aggregate ids, and inserted thousands at a time
through the application recorder until the ledger holds ``--events`` events (200,000 by
default; 20,000 with ``--quick``). The events are real ones, of real sizes.

Run from the repository root::

    .venv/bin/python benchmarks/seal.py                   # 200,000 events, SQLite and PostgreSQL
    .venv/bin/python benchmarks/seal.py --quick           # 20,000 events, under 30 s
    .venv/bin/python benchmarks/seal.py --store sqlite --events 1000000 --json /tmp/seal.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent

from ledger.application import DialogueLedger
from ledger.demo import record_demo
from replay import seal as sealing

SQLITE = "sqlite"
POSTGRES = "postgres"
T = TypeVar("T")


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@dataclass
class Result:
    store: str
    events: int
    build_s: float = 0.0
    seal_s: float = 0.0
    seal_events_per_s: float = 0.0
    incremental_events: int = 0
    incremental_seal_s: float = 0.0
    checkpoint_s: float = 0.0
    verify_s: float = 0.0
    verify_events_per_s: float = 0.0
    inclusion_proof_s: float = 0.0
    consistency_proof_s: float = 0.0
    export_s: float = 0.0
    export_mb: float = 0.0
    import_s: float = 0.0
    roots_equal_after_import: bool = False
    notes: list[str] = field(default_factory=list)


# ==================================================================================
# Stores
# ==================================================================================
class Stores:
    """Fresh SQLite files and PostgreSQL schemas, removed afterwards."""

    def __init__(self, workdir: str | None, pg: dict[str, str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="seal-bench-", dir=workdir))
        self.pg = pg
        self.schemas: list[str] = []

    def pg_connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            dbname=self.pg["POSTGRES_DBNAME"], host=self.pg["POSTGRES_HOST"],
            port=self.pg["POSTGRES_PORT"], user=self.pg["POSTGRES_USER"],
            password=self.pg["POSTGRES_PASSWORD"] or None, autocommit=True, connect_timeout=5)

    def env(self, store: str, label: str) -> dict[str, str]:
        if store == SQLITE:
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self.folder / f"{label}.db")}
        schema = f"bench_seal_{label}_{uuid.uuid4().hex[:8]}"
        with self.pg_connect() as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres", **self.pg,
                "POSTGRES_SCHEMA": schema}

    def close(self) -> None:
        if self.schemas:
            with self.pg_connect() as conn:
                for schema in self.schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def ledger(env: dict[str, str]) -> Iterator[DialogueLedger]:
    app = DialogueLedger(env)
    try:
        yield app
    finally:
        app.close()


def demo_events(folder: Path) -> list[StoredEvent]:
    with ledger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                 "SQLITE_DBNAME": str(folder / "demo.db")}) as app:
        record_demo(app)
        return [StoredEvent(originator_id=n.originator_id,
                            originator_version=n.originator_version, topic=n.topic,
                            state=n.state)
                for n in app.recorder.select_notifications(1, 100_000)]


def copies(template: list[StoredEvent], count: int) -> Iterator[list[StoredEvent]]:
    """``count`` events: copies of the template, each copy under fresh aggregate ids."""
    made = 0
    while made < count:
        ids: dict[Any, uuid.UUID] = {}
        batch = []
        for event in template[: count - made]:
            new_id = ids.setdefault(event.originator_id, uuid.uuid4())
            batch.append(StoredEvent(originator_id=new_id,
                                     originator_version=event.originator_version,
                                     topic=event.topic, state=event.state))
        made += len(batch)
        yield batch


def fill(app: DialogueLedger, template: list[StoredEvent], count: int,
         batch_size: int = 5_000) -> None:
    pending: list[StoredEvent] = []
    for chunk in copies(template, count):
        pending.extend(chunk)
        if len(pending) >= batch_size:
            app.recorder.insert_events(pending)
            pending = []
    if pending:
        app.recorder.insert_events(pending)


# ==================================================================================
# The benchmark
# ==================================================================================
def run(store: str, stores: Stores, template: list[StoredEvent], events: int) -> Result:
    result = Result(store=store, events=events)
    key = Ed25519PrivateKey.generate()
    env = stores.env(store, "source")
    with ledger(env) as app:
        log(f"[{store}] building a ledger of {events:,} events")
        _, result.build_s = timed(lambda: fill(app, template, events))

        log(f"[{store}] sealing all of them")
        sealed, result.seal_s = timed(lambda: sealing.seal(app))
        assert sealed.tree_size == events
        result.seal_events_per_s = events / result.seal_s
        first, _ = timed(lambda: sealing.checkpoint(app, key))

        result.incremental_events = 1_000
        fill(app, template, result.incremental_events)
        log(f"[{store}] sealing {result.incremental_events:,} new events")
        added, result.incremental_seal_s = timed(lambda: sealing.seal(app))
        assert added.added == result.incremental_events
        latest, result.checkpoint_s = timed(lambda: sealing.checkpoint(app, key))

        log(f"[{store}] verifying every event against the seal and both checkpoints")
        report, result.verify_s = timed(lambda: sealing.verify(
            app, [first], trusted_keys={latest.key_id}))
        assert report.ok, [str(f) for f in report.failures[:5]]
        result.verify_events_per_s = report.events / result.verify_s

        middle = app.position // 2
        (_, ok), result.inclusion_proof_s = timed(
            lambda: sealing.inclusion_proof_document(app, middle, latest))
        assert ok
        (_, ok), result.consistency_proof_s = timed(
            lambda: sealing.consistency_proof_document(app, first, latest))
        assert ok

        path = stores.folder / f"{store}-events.jsonl"
        log(f"[{store}] exporting the event log")
        with path.open("wb") as out:
            _, result.export_s = timed(lambda: sealing.export_events(app, out))
        result.export_mb = path.stat().st_size / 1e6
        root = latest.root_hash

    target = stores.env(store, "imported")
    with ledger(target) as copy:
        log(f"[{store}] importing it into an empty store")
        with path.open("rb") as lines:
            _, result.import_s = timed(lambda: sealing.import_events(copy, lines))
        result.roots_equal_after_import = sealing.seal(copy).root_hash == root
    path.unlink()
    return result


def render(results: list[Result]) -> str:
    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("events in the ledger", lambda r: f"{r.events:,}"),
        ("build (bulk insert)", lambda r: f"{r.build_s:.1f} s"),
        ("seal everything", lambda r: f"{r.seal_s:.2f} s"),
        ("  sealing throughput", lambda r: f"{r.seal_events_per_s:,.0f} ev/s"),
        ("seal 1,000 new events", lambda r: f"{r.incremental_seal_s * 1000:.0f} ms"),
        ("checkpoint (seal + sign)", lambda r: f"{r.checkpoint_s * 1000:.0f} ms"),
        ("verify everything", lambda r: f"{r.verify_s:.2f} s"),
        ("  verify throughput", lambda r: f"{r.verify_events_per_s:,.0f} ev/s"),
        ("inclusion proof", lambda r: f"{r.inclusion_proof_s:.2f} s"),
        ("consistency proof", lambda r: f"{r.consistency_proof_s:.2f} s"),
        ("export events (JSON Lines)", lambda r: f"{r.export_s:.2f} s, {r.export_mb:.0f} MB"),
        ("import events", lambda r: f"{r.import_s:.2f} s"),
        ("same root after import", lambda r: "yes" if r.roots_equal_after_import else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"{'':{width}}  " + "  ".join(f"{r.store:>22}" for r in results)
    lines = [header]
    for name, cell in rows:
        lines.append(f"{name:{width}}  " + "  ".join(f"{cell(r):>22}" for r in results))
    return "\n".join(lines)


def main() -> int:
    def env(name: str, default: str) -> str:
        return os.environ.get(name) or default

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 events: a smoke test under 30 s")
    parser.add_argument("--store", choices=(SQLITE, POSTGRES, "both"), default="both")
    parser.add_argument("--events", type=int, help="ledger size (default 200,000)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--workdir", help="where to make the temporary folder")
    parser.add_argument("--pg-dbname", default=env("TEST_POSTGRES_DBNAME", "test"))
    parser.add_argument("--pg-host", default=env("TEST_POSTGRES_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", default=env("TEST_POSTGRES_PORT", "5432"))
    parser.add_argument("--pg-user", default=env("TEST_POSTGRES_USER", "postgres"))
    parser.add_argument("--pg-password", default=env("TEST_POSTGRES_PASSWORD", ""))
    args = parser.parse_args()
    events = args.events or (20_000 if args.quick else 200_000)
    store_names = (SQLITE, POSTGRES) if args.store == "both" else (args.store,)
    stores = Stores(args.workdir, {
        "POSTGRES_DBNAME": args.pg_dbname, "POSTGRES_HOST": args.pg_host,
        "POSTGRES_PORT": str(args.pg_port), "POSTGRES_USER": args.pg_user,
        "POSTGRES_PASSWORD": args.pg_password})
    started = time.perf_counter()
    try:
        template = demo_events(stores.folder)
        results = [run(name, stores, template, events) for name in store_names]
    finally:
        stores.close()
    print(f"Tamper evidence on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({time.perf_counter() - started:.0f} s in all)\n")
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0 if all(r.roots_equal_after_import for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
