"""Point-in-time views (issue 5): a thread as of a past position costs what the thread costs,
not what the ledger costs.

Builds a small ledger (about 1,000 events) and a large one (1,000,000 by default), each with
the same mix of threads (a thread, its opening post and 18 replies, some edited or
acknowledged), projects both, and times ``PointInTime.thread(thread, at=P)`` for a thread in
the middle of each ledger, as of the position just after that thread, interleaving the two
ledgers; medians of repeated samples.

    python benchmarks/point_in_time.py [--events 1000000] [--samples 200] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import build

from ledger.application import DialogueLedger
from projections.runner import Projector
from replay.point_in_time import PointInTime


def prepare(folder: str, name: str, events: int) -> tuple[DialogueLedger, PointInTime, UUID,
                                                           int]:
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": f"{folder}/{name}.db"})
    started = time.perf_counter()
    build(app, events)
    built = time.perf_counter() - started
    projector = Projector(app)
    started = time.perf_counter()
    projector.catch_up()
    projected = time.perf_counter() - started
    middle = projector.store("threads").query(
        "SELECT id, position FROM {prefix}threads ORDER BY position LIMIT 1 OFFSET ?",
        (projector.store("threads").query("SELECT COUNT(*) AS n FROM {prefix}threads")[0]["n"]
         // 2,))[0]
    last = projector.store("threads").query(
        "SELECT MAX(position) AS p FROM {prefix}posts WHERE thread_id = ?",
        (middle["id"],))[0]["p"]
    print(f"{name}: {app.position:,} events built in {built:.1f} s, projected in "
          f"{projected:.1f} s; thread {middle['id']} as of position {last}", flush=True)
    return app, PointInTime(app, projector), UUID(middle["id"]), int(last)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.samples = 50_000, 50
    with tempfile.TemporaryDirectory() as folder:
        small = prepare(folder, "small", args.small)
        large = prepare(folder, "large", args.events)
        timings: dict[str, list[float]] = {"small": [], "large": []}
        for _ in range(args.samples):
            for name, (_, pit, thread, at) in (("small", small), ("large", large)):
                started = time.perf_counter()
                view: Any = pit.thread(thread, audience="auditor", at=at)
                timings[name].append(time.perf_counter() - started)
                assert view["post_count"] == 19
        sizes = {"small": small[0].position, "large": large[0].position}
        for app, *_ in (small, large):
            app.close()
    small_ms = statistics.median(timings["small"]) * 1e3
    large_ms = statistics.median(timings["large"]) * 1e3
    ratio = large_ms / small_ms
    print(f"\nthread as of a past position, auditor view (median of {args.samples}):")
    print(f"  ledger of {sizes['small']:,} events: {small_ms:.2f} ms")
    print(f"  ledger of {sizes['large']:,} events: {large_ms:.2f} ms")
    print(f"  ratio {ratio:.2f}  (goal <= 1.2: {'PASS' if ratio <= 1.2 else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
