#!/usr/bin/env python
"""Throughput and memory of the archive imports (``dialogue-ledger import github|mbox``).

Generates, in a temporary folder, a synthetic GitHub issue export and a synthetic mbox of
``--messages`` items each (20,000 by default: issues and comments, or e-mails), imports each
into a fresh store, and reports:

- **messages/s** for each source: archive items (issues, comments, e-mails) divided by the
  wall time of the whole import, survey pass included;
- **peak RSS** (``resource.getrusage``) of the importing process after each quarter of the
  import, and for the same import at a quarter of the size. Each import runs in a process of
  its own, so each peak is that import's alone. Memory is flat when the peaks do not grow
  with the progress of an import nor with the size of the archive.

The synthetic archives look like the real thing: ~5 items per thread, a pool of 400 members,
10 organisation people and 2 bots, pages of 100 issues, replies threaded by ``In-Reply-To``
(a tenth by subject only), 1% broken messages and 2% pull requests.

Run from the repository root::

    .venv/bin/python benchmarks/imports.py                  # 20,000 items per source, SQLite
    .venv/bin/python benchmarks/imports.py --quick          # smoke test, < 30 s
    .venv/bin/python benchmarks/imports.py --store postgres --messages 5000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.application import DialogueLedger  # noqa: E402
from ledger.imports import (  # noqa: E402
    GitHubArchive,
    GitHubOptions,
    MboxArchive,
    MboxOptions,
    import_archive,
)

START = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
MEMBERS = 400
STAFF = 10
PER_THREAD = 5
PAGE = 100
BODIES = (
    "Thanks for looking into this; is there a date for the fix?",
    "Same here.",
    "I have read the proposal twice and still do not see how it affects people who only "
    "use the mobile app. Could somebody who worked on it explain the plan for them?",
    "This is a long report of what happened, step by step, with everything I tried. " * 8,
    "+1",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ======================================================================================
# Synthetic archives
# ======================================================================================
def write_github(folder: Path, items: int, seed: int = 7) -> int:
    """Issues of ~PER_THREAD items each (the issue and its comments), in pages of PAGE."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written, number, comment_id, page, at = 0, 0, 10_000_000, [], START
    pages = 0

    def user(staff: bool) -> tuple[dict[str, Any], str]:
        if rng.random() < 0.05:
            return {"login": f"helper-{rng.randrange(2)}[bot]", "type": "Bot"}, "NONE"
        if staff:
            return {"login": f"staff-{rng.randrange(STAFF)}", "type": "User"}, "MEMBER"
        return {"login": f"member-{rng.randrange(MEMBERS)}", "type": "User"}, "NONE"

    while written < items:
        number += 1
        at += timedelta(minutes=rng.randrange(5, 90))
        author, association = user(staff=False)
        issue: dict[str, Any] = {
            "id": 1_000_000 + number, "number": number, "title": f"Issue {number}",
            "user": author, "labels": [{"name": rng.choice(["bug", "question",
                                                             "enhancement", "docs"])}],
            "created_at": at.isoformat().replace("+00:00", "Z"),
            "author_association": association, "body": rng.choice(BODIES)}
        if rng.random() < 0.02:
            issue["pull_request"] = {"url": f"https://api.github.com/pulls/{number}"}
        page.append(issue)
        written += 1
        comments = []
        for _ in range(min(PER_THREAD - 1, items - written)):
            comment_id += 1
            author, association = user(staff=rng.random() < 0.3)
            comments.append({
                "id": comment_id, "user": author, "author_association": association,
                "created_at": (at + timedelta(minutes=rng.randrange(1, 3000)))
                .isoformat().replace("+00:00", "Z"),
                "body": rng.choice(BODIES)})
            written += 1
        if comments:
            (folder / f"comments-{number}.json").write_bytes(orjson.dumps(comments))
        if len(page) == PAGE:
            pages += 1
            (folder / f"issues-{pages}.json").write_bytes(orjson.dumps(page))
            page = []
    if page:
        pages += 1
        (folder / f"issues-{pages}.json").write_bytes(orjson.dumps(page))
    return written


def write_mbox(path: Path, items: int, seed: int = 11) -> int:
    """Threads of ~PER_THREAD messages; replies name their parent in In-Reply-To, except a
    tenth that only say ``Re:`` in the subject; 1% of messages lack a Date."""
    rng = random.Random(seed)
    at = START
    with path.open("w", encoding="utf-8") as out:
        for n in range(items):
            at += timedelta(minutes=rng.randrange(1, 30))
            opening = n % PER_THREAD == 0
            thread = n // PER_THREAD
            if rng.random() < 0.3 and not opening:
                sender = f"Council Staff {rng.randrange(STAFF)} <staff{rng.randrange(STAFF)}" \
                         "@council.example.org>"
            elif rng.random() < 0.02:
                sender = "List robot <noreply@lists.example.org>"
            else:
                who = rng.randrange(MEMBERS)
                sender = f"Member {who} <member{who}@example.net>"
            headers = [f"From: {sender}", "To: talk@lists.example.org",
                       f"Subject: {'' if opening else 'Re: '}[Talk] Thread number {thread}",
                       f"Message-ID: <{n}.{thread}@bench.example>"]
            if rng.random() >= 0.01:
                headers.append(f"Date: {format_datetime(at)}")
            if not opening and rng.random() >= 0.1:
                parent = n - 1 if rng.random() < 0.7 else thread * PER_THREAD
                headers.append(f"In-Reply-To: <{parent}.{thread}@bench.example>")
            body = rng.choice(BODIES).replace("\nFrom ", "\n>From ")
            out.write(f"From bench@example.net {at.strftime('%a %b %d %H:%M:%S %Y')}\n"
                      + "\n".join(headers) + "\n\n" + body + "\n\n")
    return items


# ======================================================================================
# One import, in a process of its own
# ======================================================================================
def store_env(store: str, workdir: Path) -> dict[str, str]:
    if store == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(workdir / f"ledger-{uuid.uuid4().hex[:8]}.db")}
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": os.environ.get("POSTGRES_DBNAME", "test"),
            "POSTGRES_HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
            "POSTGRES_PORT": os.environ.get("POSTGRES_PORT", "5432"),
            "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
            "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
            "POSTGRES_SCHEMA": f"bench_{uuid.uuid4().hex[:10]}"}


def rss_mb() -> float:
    """The process's peak resident set size so far, in MB (ru_maxrss is KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(source: str, archive: Path, store: str, workdir: Path) -> dict[str, Any]:
    env = store_env(store, workdir)
    schema = env.get("POSTGRES_SCHEMA")
    if schema:
        _pg_schema(env, create=True)
    app = DialogueLedger(env)
    try:
        if source == "github":
            archive_source: GitHubArchive | MboxArchive = GitHubArchive(
                archive, GitHubOptions())
        else:
            archive_source = MboxArchive([archive], MboxOptions(("@council.example.org",),
                                                                ("noreply@*",)))
        baseline = rss_mb()
        started = time.perf_counter()
        survey = archive_source.survey()
        surveyed = time.perf_counter()
        done = 0
        quarters: list[float] = []

        def progress(count: int) -> None:
            nonlocal done
            done += count
            while len(quarters) < 4 and done >= survey.items * (len(quarters) + 1) / 4:
                quarters.append(round(rss_mb(), 1))

        summary = import_archive(app, archive_source, f"bench-{source}", survey=survey,
                                 progress=progress)
        finished = time.perf_counter()
        seconds = finished - started
        return {
            "source": source, "store": store, "items": survey.items,
            "imported": summary.imported, "already_imported": summary.already_imported,
            "skipped": summary.skipped_total, "events": app.position,
            "seconds": round(seconds, 2), "survey_seconds": round(surveyed - started, 2),
            "messages_per_s": round(survey.items / seconds, 1),
            "events_per_s": round(app.position / seconds, 1),
            "rss_before_mb": round(baseline, 1), "rss_quarters_mb": quarters,
            "peak_rss_mb": round(rss_mb(), 1),
        }
    finally:
        app.close()
        if schema:
            _pg_schema(env, create=False)


def _pg_schema(env: dict[str, str], *, create: bool) -> None:
    import psycopg

    with psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                         port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                         password=env["POSTGRES_PASSWORD"] or None, autocommit=True,
                         connect_timeout=5) as conn:
        schema = env["POSTGRES_SCHEMA"]
        conn.execute(f"CREATE SCHEMA {schema}" if create
                     else f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_child(source: str, archive: Path, store: str, workdir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", source, str(archive), store, str(workdir)],
        check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ======================================================================================
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000,
                        help="items per source (default 20000)")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 items per source and no smaller comparison run (< 30 s)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=4, metavar=("SOURCE", "ARCHIVE", "STORE", "DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        source, archive, store, workdir = args.child
        print(json.dumps(child(source, Path(archive), store, Path(workdir))))
        return 0

    size = 1_000 if args.quick else args.messages
    sizes = [size] if args.quick else [max(size // 4, 1), size]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ledger-import-bench-") as tmp:
        workdir = Path(tmp)
        for n in sizes:
            github = workdir / f"github-{n}"
            mbox = workdir / f"list-{n}.mbox"
            log(f"generating {n} GitHub items and {n} e-mails ...")
            write_github(github, n)
            write_mbox(mbox, n)
            for source, archive in (("github", github), ("mbox", mbox)):
                log(f"importing {source} ({n} items, {args.store}) ...")
                result = run_child(source, archive, args.store, workdir)
                result["archive_mb"] = round(_size(archive) / 1e6, 1)
                results.append(result)
                log(f"  {result['messages_per_s']} messages/s, peak RSS "
                    f"{result['peak_rss_mb']} MB")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def render(results: list[dict[str, Any]]) -> str:
    lines = ["| source | store | items | archive MB | events | seconds (survey) | messages/s "
             "| peak RSS MB at 25/50/75/100 % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        quarters = " / ".join(f"{q:.1f}" for q in r["rss_quarters_mb"])
        lines.append(f"| {r['source']} | {r['store']} | {r['items']} | {r['archive_mb']} "
                     f"| {r['events']} | {r['seconds']} ({r['survey_seconds']}) "
                     f"| {r['messages_per_s']} | {quarters} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
