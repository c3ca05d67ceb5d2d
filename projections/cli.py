"""``dialogue-ledger project``: the projection worker, a process of its own."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from ledger.application import DialogueLedger
from ledger.config import describe, store_env

log = logging.getLogger("dialogue_ledger.project")

#: Seconds the worker waits for its projector to finish the round under way once asked to
#: stop; views are written in transactions, so leaving a round unfinished loses nothing.
STOP_GRACE = 6.0


class StopRequest:
    """Set by SIGTERM or SIGINT, once or many times. A signal handler runs between two of
    the main thread's bytecodes, possibly while that thread holds a lock (an ``Event.wait``
    holds its condition's): so the handler only sets a plain attribute, and the main thread
    looks at it between short sleeps."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum


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
    stop = StopRequest()
    previous = {} if args.once else {
        sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    env = store_env()
    app = DialogueLedger(env)
    closing = True
    try:
        projector = Projector(app, poll_interval=args.poll_interval)
        if args.once:
            position = projector.catch_up()
            print(f"Views caught up with position {position} ({describe(env)}).")
            return 0
        log.info("projecting %s from position %d", describe(env), projector.position)
        projector.start()
        report = time.monotonic() + 5.0
        while stop.signal is None:
            time.sleep(0.1)
            if time.monotonic() >= report:
                report = time.monotonic() + 5.0
                log.info("views at position %d of %d%s", projector.position, app.position,
                         f" (last error: {projector.last_error})"
                         if projector.last_error else "")
        log.info("stopping (%s)", signal.Signals(stop.signal).name)
        stopping = threading.Thread(target=projector.stop, name="stopping", daemon=True)
        stopping.start()
        stopping.join(STOP_GRACE)
        closing = not stopping.is_alive()
        if not closing:  # its round is stuck (a lock wait): its transaction is abandoned
            log.warning("the projector did not stop within %.0f s; leaving its round "
                        "unfinished", STOP_GRACE)
        log.info("stopped at position %d", projector.position)
        return 0
    finally:
        if closing:
            app.close()
        for sig, handler in previous.items():  # after a stop, the process is ending:
            signal.signal(sig, handler if stop.signal is None else signal.SIG_IGN)
