"""``dialogue-ledger project``: the projection worker, a process of its own."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any

from ledger.application import DialogueLedger
from ledger.config import describe, store_env

log = logging.getLogger("dialogue_ledger.project")


def register(commands: Any) -> None:
    project = commands.add_parser(
        "project", help="keep the views current, in a process of its own",
        description="Follows the ledger and applies new events to every view until stopped "
                    "(SIGTERM or Ctrl-C). Several workers may run at once: each event is "
                    "applied exactly once, whichever applies it first.")
    project.add_argument("--once", action="store_true",
                         help="catch up with the ledger's head and exit")
    project.add_argument("--poll-interval", type=float, default=0.5,
                         help="seconds between checks for events from elsewhere (PostgreSQL "
                              "wakes the worker at once with LISTEN/NOTIFY)")
    project.set_defaults(handler=cmd_project)


def cmd_project(args: argparse.Namespace) -> int:
    from projections.runner import Projector

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    env = store_env()
    app = DialogueLedger(env)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, stopping)
    try:
        projector = Projector(app, poll_interval=args.poll_interval)
        if args.once:
            position = projector.catch_up()
            print(f"Views caught up with position {position} ({describe(env)}).")
            return 0
        log.info("projecting %s from position %d", describe(env), projector.position)
        with projector:
            try:
                while not stop.wait(5.0):
                    log.info("views at position %d of %d%s", projector.position,
                             app.position,
                             f" (last error: {projector.last_error})"
                             if projector.last_error else "")
            except KeyboardInterrupt:
                pass
        log.info("stopped at position %d", projector.position)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        app.close()
