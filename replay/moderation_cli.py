"""``dialogue-ledger export moderation``: the compliance export of moderation decisions.

``register_export(export_commands)`` adds the ``moderation`` command to the ``export``
group's subparsers; its handler returns the exit status: 0 done, 2 bad input (an unknown
community, an empty period, no puid key for ``--format dsa``). The export is written to
``--out FILE.part`` and renamed to ``FILE`` only when complete, so a failed export never
leaves a file that looks whole. A summary goes to stderr; stdout carries only the export.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from tqdm import tqdm

from ledger.application import DialogueLedger
from ledger.cli import parse_time
from ledger.config import private_file, store_env
from ledger.errors import InvalidInput, LedgerError
from projections.queries import ViewReader
from projections.runner import Projector
from replay.dsa import DsaOptions, puid_key_from_env
from replay.moderation_export import (
    Decision,
    DecisionReader,
    write_csv,
    write_dsa,
    write_jsonl,
)

#: A progress bar is shown when writing to a file at least this many decisions (or catching
#: up at least this many events).
PROGRESS_MIN_ROWS = 2_000
FORMATS = ("csv", "jsonl", "dsa")


def register_export(
        export_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``moderation`` to the ``export`` group's subparsers; returns its parser."""
    parser = export_commands.add_parser(
        "moderation", help="moderation decisions for compliance (CSV, JSON Lines, DSA)",
        description="Export moderation decisions, one per row (CSV, RFC 4180), one per line "
                    "(JSON Lines), or as EU DSA Transparency Database statements of reasons "
                    "(JSON Lines of batches of at most 100, each the body of one POST "
                    "/api/v1/statements; puids are derived from the secret in "
                    "DIALOGUE_LEDGER_PUID_KEY). See docs/compliance-exports.md.")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--community", action="append", metavar="ID|SLUG",
                        help="a community (repeatable; default: every community)")
    parser.add_argument("--from", dest="start", type=parse_time,
                        help="decisions taken at or after this time (UTC)")
    parser.add_argument("--to", dest="end", type=parse_time,
                        help="decisions taken before this time (UTC, exclusive)")
    parser.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument("--rules-url", metavar="URL",
                        help="dsa: the published community rules "
                             "(decision_ground_reference_url)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.set_defaults(handler=cmd_export_moderation)
    return parser


def cmd_export_moderation(args: argparse.Namespace) -> int:
    try:
        return _export(args)
    except LedgerError as error:
        print(f"dialogue-ledger: {error.code}: {error.message}"
              + "".join(f"; {k}: {v}" for k, v in error.details.items()), file=sys.stderr)
        return 2


def _export(args: argparse.Namespace) -> int:
    if args.start is not None and args.end is not None and args.start >= args.end:
        raise InvalidInput("--from must be before --to")
    options = None
    if args.format == "dsa":
        options = DsaOptions(puid_key=puid_key_from_env(), reference_url=args.rules_url)
    to_file = args.out not in (None, "-")
    app = DialogueLedger(store_env())
    try:
        projector = Projector(app)
        lag = app.position - projector.position
        with tqdm(total=lag, unit="ev", desc="catching up", file=sys.stderr,
                  disable=args.quiet or not to_file or lag < PROGRESS_MIN_ROWS) as bar:
            projector.catch_up(progress=bar.update)
        reader = ViewReader(projector)
        community_ids = [reader.community(ref)["id"] for ref in args.community or ()]
        decisions = DecisionReader(projector, community_ids=community_ids, start=args.start,
                                   end=args.end)
        total = decisions.count()
        with tqdm(total=total, unit="decision", desc=f"exporting {args.format}",
                  file=sys.stderr,
                  disable=args.quiet or not to_file or total < PROGRESS_MIN_ROWS) as bar:
            rows = _ticking(decisions, bar.update)
            if to_file:
                summary = _to_file(Path(args.out), lambda out: _write(args, rows, out, options))
            else:
                summary = _write(args, rows, sys.stdout, options)
                sys.stdout.flush()
    finally:
        app.close()
    if not args.quiet:
        where = f" to {args.out}" if to_file else ""
        print(f"Exported {summary}{where}.", file=sys.stderr)
    return 0


def _write(args: argparse.Namespace, rows: Iterable[Decision], out: TextIO,
           options: DsaOptions | None) -> str:
    """Write the export; a one-line summary of what was written."""
    if args.format == "csv":
        return f"{_plural(write_csv(rows, out), 'decision')} as CSV"
    if args.format == "jsonl":
        return f"{_plural(write_jsonl(rows, out), 'decision')} as JSON Lines"
    assert options is not None
    dsa = write_dsa(rows, out, options)
    return (f"{_plural(dsa.statements, 'statement')} of reasons in "
            f"{_plural(dsa.batches, 'batch', 'batches')}; skipped "
            f"{_plural(dsa.skipped, 'lifting decision')} (restore, unlock, reinstate: not "
            "statements of reasons)")


def _to_file(path: Path, write: Callable[[TextIO], str]) -> str:
    """Write through ``FILE.part``, renamed to ``FILE`` once complete."""
    part = path.with_name(path.name + ".part")
    try:
        with private_file(part, "w", encoding="utf-8", newline="") as out:
            summary = write(cast(TextIO, out))
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return summary


def _ticking(rows: Iterable[Decision], tick: Callable[[int], object]) -> Iterator[Decision]:
    for row in rows:
        yield row
        tick(1)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def register(commands: Any) -> None:
    """Add ``export moderation`` to the ``export`` group (made by ``replay.seal_cli``)."""
    from replay.seal_cli import export_group

    register_export(export_group(commands))
