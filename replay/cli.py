"""``dialogue-ledger history`` and ``dialogue-ledger view``: the record as it stood."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from uuid import UUID

import orjson

from ledger.application import DialogueLedger
from ledger.config import store_env
from ledger.errors import InvalidInput


def register(commands: Any) -> None:
    from ledger.cli import parse_time, positive_int

    def point(parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--as-of", type=parse_time,
                           help="only events that occurred by this time (UTC)")
        group.add_argument("--at", type=positive_int, help="only events up to this position")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    history = commands.add_parser("history", help="the full history of a thread")
    histories = history.add_subparsers(dest="history_of", required=True, metavar="WHAT")
    thread = histories.add_parser(
        "thread", help="every event of a thread, its posts and the moderation acts on them")
    thread.add_argument("thread_id")
    point(thread)
    thread.set_defaults(handler=cmd_history_thread)

    view = commands.add_parser("view", help="a view as it stood at a position or time")
    views = view.add_subparsers(dest="view_of", required=True, metavar="VIEW")
    for name, help_ in (("thread", "a thread's reply tree"),
                        ("roster", "a community's members and roles"),
                        ("moderation-log", "a community's moderation decisions")):
        sub = views.add_parser(name, help=help_)
        sub.add_argument("ref", help="thread id" if name == "thread"
                         else "community id, ORG-SLUG:SLUG or slug")
        if name == "thread":
            sub.add_argument("--audience", choices=("public", "auditor"), default="public")
        point(sub)
        sub.set_defaults(handler=cmd_view, view_name=name)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidInput("not an id", value=text) from None


def _open() -> tuple[DialogueLedger, Any]:
    from projections.runner import Projector
    from replay.point_in_time import PointInTime

    app = DialogueLedger(store_env())
    projector = Projector(app)
    projector.catch_up()
    return app, PointInTime(app, projector)


def _print(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def cmd_history_thread(args: argparse.Namespace) -> int:
    from replay.history import render_history, thread_history

    app, pit = _open()
    try:
        history = thread_history(app, pit, _uuid(args.thread_id), at=args.at,
                                 as_of=args.as_of)
    finally:
        app.close()
    if args.format == "json":
        _print(history)
    else:
        print(render_history(history))
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    app, pit = _open()
    try:
        if args.view_name == "thread":
            data = pit.thread(_uuid(args.ref), audience=args.audience, at=args.at,
                              as_of=args.as_of)
        elif args.view_name == "roster":
            data = pit.roster(app.community_id(args.ref), at=args.at, as_of=args.as_of)
        else:
            data = pit.moderation_log(app.community_id(args.ref), at=args.at,
                                      as_of=args.as_of)
    finally:
        app.close()
    _print(data)
    return 0
