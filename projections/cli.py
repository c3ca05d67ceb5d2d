"""``dialogue-ledger project``: the projection worker, a process of its own; and
``dialogue-ledger parked``: the events the views could not apply (see :mod:`projections.parked`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from ledger.application import DialogueLedger
from ledger.config import describe, store_env

if TYPE_CHECKING:
    from projections.parked import Parked

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
    parked = commands.add_parser(
        "parked", help="events the views could not apply (parked), and applying them again",
        description="Lists the events the live views could not apply: each was parked, and "
                    "its view went on without it (/readyz answers 503 while any is parked).")
    actions = parked.add_subparsers(dest="action")
    actions.add_parser("list", help="list the parked events (the default)")
    actions.add_parser(
        "retry", help="apply the parked events again, after a fix",
        description="Applies every parked event again, in the ledger's order, to the view "
                    "that parked it, in place; those that now succeed are no longer parked. "
                    "Exits 1 if some still fail. `dialogue-ledger rebuild` also applies them "
                    "(from scratch).")
    parked.set_defaults(handler=cmd_parked)


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


def cmd_parked(args: argparse.Namespace) -> int:
    from projections.runner import Projector

    app = DialogueLedger(store_env())
    try:
        projector = Projector(app)
        if args.action == "retry":
            applied, failing = projector.retry_parked()
            for event in applied:
                print(f"applied   {event.view} position {event.position} ({event.topic})")
            for event in projector.parked_events():
                print(f"still parked: {_line(event)}")
            print(f"{len(applied)} parked events applied, {len(failing)} still failing.")
            return 1 if failing else 0
        events = projector.parked_events()
        for event in events:
            print(_line(event))
        print(f"{len(events)} events parked.")
        return 0
    finally:
        app.close()


def _line(event: Parked) -> str:
    return (f"{event.view} position {event.position} ({event.topic}, {event.originator_id} "
            f"v{event.originator_version}) parked {event.as_dict()['parked_at']}: "
            f"{event.error_class}: {event.error_message}")
