"""``dialogue-ledger``: the command line. Each subcommand is a thin shell over the ledger.

Errors print a one-line message to stderr and exit non-zero: 2 for bad input or a broken
rule, 1 when the store cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from eventsourcing.persistence import PersistenceError

from ledger.application import DialogueLedger
from ledger.config import describe, store_env
from ledger.errors import LedgerError

Handler = Callable[[argparse.Namespace], int]


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.demo import record_demo

    env = store_env()
    app = DialogueLedger(env)
    try:
        if args.if_empty and app.position > 0:
            print(f"The store already holds {app.position} events ({describe(env)}); "
                  "not recording the demo again.")
            return 0
        summary = record_demo(app)
    finally:
        app.close()
    print(f"Recorded the demo dialogue into {describe(env)}:")
    print(f"  community      {summary.community_slug} ({summary.community_id})")
    print(f"  commands       {summary.commands}")
    print(f"  events         {summary.events} "
          f"(positions {summary.first_position}..{summary.last_position})")
    print("  events by kind:")
    for kind, count in sorted(summary.events_by_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:5d}  {kind}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    env = store_env()
    app = DialogueLedger(env)
    try:
        print(f"{describe(env)}: {app.position} events")
    finally:
        app.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialogue-ledger",
        description="An immutable ledger of an organisation's dialogue with its community. "
                    "The store is configured by PERSISTENCE_MODULE, SQLITE_DBNAME and "
                    "POSTGRES_* environment variables (default: SQLite dialogue-ledger.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="record the demo dialogue into the store")
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing if the store already holds events")
    demo.set_defaults(handler=cmd_demo)
    status = commands.add_parser("status", help="show the store and its ledger position")
    status.set_defaults(handler=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except LedgerError as error:
        print(f"dialogue-ledger: {error.code}: {error.message}", file=sys.stderr)
        return 2
    except PersistenceError as error:
        print(f"dialogue-ledger: the store could not be used: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
