"""``dialogue-ledger``: the command line. Each subcommand is a thin shell over the ledger.

Errors print a one-line message to stderr and exit non-zero: 2 for bad input or a broken
rule, 1 when the store cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import import_module

from eventsourcing.persistence import PersistenceError

from ledger.application import DialogueLedger
from ledger.config import describe, store_env
from ledger.errors import InvalidInput, LedgerError

Handler = Callable[[argparse.Namespace], int]
#: The umask the commands run under: what they create is readable by its owner only.
PRIVATE_UMASK = 0o077

#: Modules that add subcommands: each has ``register(commands)``, taking the subparsers
#: object, and sets ``handler`` on each parser it adds (a function of the parsed arguments
#: returning the exit status). ``LedgerError`` raised by a handler exits 2 with its message.
EXTENSIONS: list[str] = [
    "api.cli",
    "projections.cli",
    "replay.cli",
    "ledger.imports.cli",
    "replay.seal_cli",
    "replay.moderation_cli",
]


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


def cmd_claim_handles(args: argparse.Namespace) -> int:
    env = store_env()
    app = DialogueLedger(env)
    try:
        found = app.claim_registered_handles()
    finally:
        app.close()
    print(f"{describe(env)}: {found.claimed} look-alike claims recorded for people "
          "registered before claims existed.")
    for handle, holder in found.look_alikes:
        print(f"  {handle!a} looks like the handle of person {holder}, who holds the claim")
    return 0


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-09-01 or "
            "2026-09-01T12:00:00Z)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def cmd_rebuild(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from projections.runner import Projector

    env = store_env()
    app = DialogueLedger(env)
    try:
        projector = Projector(app)
        if args.view:  # in place: these views are rebuilt where they are served
            names = sorted(set(args.view))
            with tqdm(total=app.position, unit="ev", desc="rebuilding " + ", ".join(names),
                      disable=args.quiet) as bar:
                position = projector.rebuild(names, progress=bar.update)
            print(f"Rebuilt {', '.join(names)} in place up to position {position} "
                  f"({describe(env)}).")
        else:  # blue/green: the live views keep serving until the new ones take over
            with tqdm(total=app.position, unit="ev", desc="rebuilding all views",
                      disable=args.quiet) as bar:
                position = projector.rebuild_blue_green(progress=bar.update)
            print(f"Rebuilt every view up to position {position} as generation "
                  f"{projector.generation}, now live ({describe(env)}).")
    finally:
        app.close()
    return 0


def cmd_report_listening(args: argparse.Namespace) -> int:
    import orjson

    from projections.queries import ViewReader
    from projections.report import ListeningReport, ReportRequest, default_period
    from projections.report_format import render_table
    from projections.runner import Projector

    app = DialogueLedger(store_env())
    try:
        projector = Projector(app)
        projector.catch_up()
        reader = ViewReader(projector)
        if args.community:
            communities = [reader.community(args.community)]
        else:
            organisation_id = str(app.organisation_id(args.organisation))
            communities = reader.communities(organisation_id)
        start, end = default_period(args.now or args.as_of or datetime.now(tz=UTC))
        request = ReportRequest(
            community_ids=tuple(c["id"] for c in communities),
            start=args.start or start, end=args.end or end, at=args.at, as_of=args.as_of,
            now=args.now, pile_on_members=args.pile_on_members,
            pile_on_hours=args.pile_on_hours)
        if request.start >= request.end:
            raise InvalidInput("--from must be before --to")
        report = ListeningReport(projector).compute(request)
        if args.format == "json":
            sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print(f"Communities: {', '.join(c['slug'] for c in communities)}")
            print(render_table(report, reader.names()))
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

    claims = commands.add_parser(
        "claim-handles", help="give people registered before look-alike claims their claim",
        description="Records a look-alike claim (see docs/domain.md, Acceptable text) for "
                    "each registered person who lacks one, so that look-alikes of their "
                    "handle are refused; lists handles that already look like another's. "
                    "Safe to run again.")
    claims.set_defaults(handler=cmd_claim_handles)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild views from the event log",
        description="Without --view: a blue/green rebuild of every view into new tables, "
                    "made live once caught up, while the current views keep serving. With "
                    "--view: rebuild those views in place.")
    rebuild.add_argument("--view", action="append", choices=_view_names(),
                         help="a view to rebuild in place (repeatable)")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(handler=cmd_rebuild)

    report = commands.add_parser("report", help="reports computed from the views")
    reports = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    listening = reports.add_parser(
        "listening", help="did the organisation listen and respond?",
        description="The listen-and-respond report for one community or all of an "
                    "organisation's communities, over [--from, --to) (default: the last 30 "
                    "days), beside the period of equal length before it.")
    scope = listening.add_mutually_exclusive_group(required=True)
    scope.add_argument("--community", help="community id, ORG-SLUG:SLUG or slug")
    scope.add_argument("--organisation", help="organisation id or slug: all its communities")
    listening.add_argument("--from", dest="start", type=parse_time, help="period start (UTC)")
    listening.add_argument("--to", dest="end", type=parse_time, help="period end, exclusive")
    point = listening.add_mutually_exclusive_group()
    point.add_argument("--as-of", type=parse_time,
                       help="only events that occurred by this time")
    point.add_argument("--at", type=positive_int, help="only events up to this position")
    listening.add_argument("--now", type=parse_time,
                           help="the time ages and overdue dates are measured at "
                                "(default: --as-of, else now)")
    listening.add_argument("--pile-on-members", type=positive_int, default=5,
                           help="k: distinct members that make a pile-on (default 5)")
    listening.add_argument("--pile-on-hours", type=float, default=24.0,
                           help="w: the pile-on window in hours (default 24)")
    listening.add_argument("--format", choices=("table", "json"), default="table")
    listening.set_defaults(handler=cmd_report_listening)

    for module in EXTENSIONS:
        import_module(module).register(commands)
    return parser


def _view_names() -> list[str]:
    from projections.views import VIEWS_BY_NAME

    return sorted(VIEWS_BY_NAME)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    # Whatever a command creates (the SQLite files, exports, keys, checkpoints, folders) is
    # its user's alone: files 0600, folders 0700.
    umask = os.umask(PRIVATE_UMASK)
    try:
        return handler(args)
    except LedgerError as error:
        print(f"dialogue-ledger: {error.code}: {error.message}", file=sys.stderr)
        return 2
    except PersistenceError as error:
        print(f"dialogue-ledger: the store could not be used: {error}", file=sys.stderr)
        return 1
    finally:
        os.umask(umask)


if __name__ == "__main__":
    sys.exit(main())
