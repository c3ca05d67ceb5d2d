"""``dialogue-ledger import github DIR`` and ``dialogue-ledger import mbox FILE...``: import
an archive into a community, with a progress bar and a summary of what was imported,
skipped, and why. Registered through ``ledger.cli.EXTENSIONS``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ledger.application import DialogueLedger
from ledger.config import describe, store_env
from ledger.imports.base import ArchiveSource, import_archive
from ledger.imports.github import REPRESENTATIVE_ASSOCIATIONS, GitHubArchive, GitHubOptions
from ledger.imports.mbox import MboxArchive, MboxOptions

#: ``--dry-run`` imports into a fresh ledger in memory, which is thrown away.
DRY_RUN_ENV = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}


def _words(text: str) -> list[str]:
    return [word for word in (w.strip() for w in text.split(",")) if word]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--community", required=True, metavar="SLUG|ID",
                        help="the community to import into; a slug that does not exist yet "
                             "creates an open community of that slug")
    parser.add_argument("--organisation", metavar="SLUG|ID",
                        help="the organisation of a community the import creates (found if "
                             "it does not exist; default: the community's slug)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read and check the archive as an import into an empty ledger "
                             "would, in memory; write nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def register(commands: Any) -> None:
    """Add ``import github`` and ``import mbox`` to the ``dialogue-ledger`` subcommands."""
    sources = _import_group(commands)

    github = sources.add_parser(
        "github", help="a folder of GitHub issues-*.json and comments-<number>.json",
        description="Import a GitHub issue export: each issue becomes a thread, each comment "
                    "a reply; pull requests are skipped. Importing again adds nothing. "
                    "See docs/imports.md.")
    github.add_argument("dir", type=Path, metavar="DIR")
    _common(github)
    github.add_argument(
        "--org-association", action="extend", type=_words, metavar="ASSOCIATION",
        help="an author_association whose authors speak for the organisation (repeatable "
             "or comma-separated; default: "
             + ", ".join(sorted(REPRESENTATIVE_ASSOCIATIONS)) + ")")
    github.add_argument("--org-login", action="extend", type=_words, default=[],
                        metavar="LOGIN",
                        help="a login that speaks for the organisation whatever its "
                             "association (repeatable or comma-separated)")
    github.set_defaults(handler=cmd_import_github)

    mbox = sources.add_parser(
        "mbox", help="mbox files or pipermail text archives",
        description="Import mailing-list archives: threads from In-Reply-To and References, "
                    "falling back to the subject; broken messages are reported and skipped. "
                    "Importing again adds nothing. See docs/imports.md.")
    mbox.add_argument("files", type=Path, nargs="+", metavar="FILE")
    _common(mbox)
    mbox.add_argument(
        "--org-address", action="extend", nargs="+", required=True, metavar="PATTERN",
        help="who speaks for the organisation: an address (press@example.org), a domain "
             "(@example.org) or a display name (\"Mayor *\"); fnmatch wildcards, any case")
    mbox.add_argument("--bot-address", action="extend", nargs="+", default=[],
                      metavar="PATTERN",
                      help="senders that are bots (auto-responders), in the same syntax")
    mbox.set_defaults(handler=cmd_import_mbox)


def _import_group(commands: Any) -> Any:
    """The subcommands of ``import``, shared with any other extension that imports things
    (whichever registers first creates the group)."""
    existing = commands.choices.get("import")
    if existing is None:
        importing = commands.add_parser("import", help="import archives into the ledger")
        return importing.add_subparsers(dest="source", required=True, metavar="SOURCE")
    for action in existing._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the 'import' command has no subcommands to add to")


def cmd_import_github(args: argparse.Namespace) -> int:
    options = GitHubOptions.of(args.org_association, args.org_login)
    return _run(args, GitHubArchive(args.dir, options))


def cmd_import_mbox(args: argparse.Namespace) -> int:
    options = MboxOptions(tuple(args.org_address), tuple(args.bot_address))
    return _run(args, MboxArchive(args.files, options))


def _run(args: argparse.Namespace, source: ArchiveSource) -> int:
    from tqdm import tqdm

    env = store_env(DRY_RUN_ENV) if args.dry_run else store_env()
    app = DialogueLedger(env)
    try:
        survey = source.survey()
        with tqdm(total=survey.items, unit="item", desc=f"importing {source.name}",
                  disable=args.quiet) as bar:
            summary = import_archive(app, source, args.community,
                                     organisation=args.organisation, survey=survey,
                                     progress=bar.update, dry_run=args.dry_run)
    finally:
        app.close()
    if args.dry_run:
        print(f"Dry run: the {source.name} archive would import as follows "
              "(into an empty ledger; nothing was written):")
    else:
        print(f"Imported the {source.name} archive into {describe(env)}:")
    for line in summary.lines():
        print(line)
    if not args.dry_run:
        print(f"  ledger position   {summary.position}")
        print(f"Report: dialogue-ledger report listening --community {summary.community}")
    return 0
