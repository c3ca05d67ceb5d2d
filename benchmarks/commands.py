#!/usr/bin/env python
"""Benchmarks of the ledger's commands against its performance targets.

1a. A reply into a thread that already holds ``--replies`` replies (100,000 by default)
    costs about what the same reply costs in a fresh thread of a fresh ledger.
1b. Typical commands (reply, open_thread, edit_post, cast_vote) in a ledger of ``--events``
    events (1,000,000 by default on SQLite, ``--pg-events`` on PostgreSQL) cost about what
    they cost in a fresh ledger.
2.  Events/s and commands/s for a typical mix of commands, one by one, through the
    application.

The histories are built in bulk: domain objects (posts, threads, memberships, ...) are
constructed directly, as the commands would construct them, and saved thousands per
``app.save(...)``. Everything timed goes through the real commands. Baseline and target
samples are taken alternately (interleaved, the order flipped every sample) and compared by
their medians; every ratio printed was measured within the same run.

Run from the repository root::

    .venv/bin/python benchmarks/commands.py                  # full run, both stores
    .venv/bin/python benchmarks/commands.py --quick          # smoke test, < 60 s
    .venv/bin/python benchmarks/commands.py --store sqlite --json /tmp/results.json

See ``benchmarks/README.md`` for what each figure means and the figures measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
from eventsourcing.domain import Aggregate

from ledger.application import DialogueLedger, Receipt
from ledger.domain import (
    Access,
    Act,
    Action,
    AdmissionRule,
    AppealOutcome,
    Choice,
    Community,
    JoinedVia,
    Membership,
    ModerationDecision,
    Person,
    Post,
    PostKind,
    ReasonCode,
    Role,
    Side,
    Thread,
)
from ledger.domain.base import opening_post_id

#: The issue's goal for every "cost must not grow with history" ratio.
RATIO_GOAL = 1.2
SQLITE = "sqlite"
POSTGRES = "postgres"

BODIES = (
    "Thank you for opening this up; I have a question about the timetable.",
    "Agreed.",
    "Could the organisation publish the figures behind this decision? Several of us asked "
    "at the last meeting and nobody came back to us. It would help to see them before "
    "the vote next month.",
    "I disagree with the proposal as written: the consultation period is far too short "
    "for people who only read the newsletter.",
    "+1, same experience here.",
    "Here is a longer account of what happened on our street. " * 6,
)
KINDS = (PostKind.QUESTION, PostKind.CONCERN, PostKind.PROPOSAL, PostKind.COMMENT)


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# ==================================================================================
# Configuration
# ==================================================================================
@dataclass(frozen=True)
class Config:
    quick: bool
    stores: tuple[str, ...]
    replies: int
    events: int
    pg_replies: int
    pg_events: int
    samples: int
    warmup: int
    members: int
    batch: int
    mix_rounds: int
    mix_commands: int
    command_ids: bool
    seed: int
    bootstrap: int
    pg: dict[str, str]
    workdir: str | None

    def replies_for(self, store: str) -> int:
        return self.pg_replies if store == POSTGRES else self.replies

    def events_for(self, store: str) -> int:
        return self.pg_events if store == POSTGRES else self.events


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the Dialogue Ledger's commands against its performance targets.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke test (well under 60 s)")
    parser.add_argument("--store", choices=(SQLITE, POSTGRES, "both"), default="both",
                        help="which store(s) to benchmark (default: both; with 'both', an "
                             "unreachable PostgreSQL is reported and skipped)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--replies", type=int,
                        help="replies already in the thread for 1a (default 100000; "
                             "quick 2000)")
    parser.add_argument("--pg-replies", type=int,
                        help="the same on PostgreSQL (default: --replies)")
    parser.add_argument("--events", type=int,
                        help="events in the big ledger for 1b on SQLite (default 1000000; "
                             "quick 20000)")
    parser.add_argument("--pg-events", type=int,
                        help="events in the big ledger for 1b on PostgreSQL (default 200000; "
                             "quick 20000; 1000000 for the full-size manual run)")
    parser.add_argument("--samples", type=int,
                        help="timed samples per command and side (default 300; quick 40)")
    parser.add_argument("--warmup", type=int,
                        help="untimed warm-up calls per command and side (default 20; "
                             "quick 5)")
    parser.add_argument("--members", type=int,
                        help="members of the benchmark community (default 30; quick 8)")
    parser.add_argument("--batch", type=int, default=5000,
                        help="events per app.save() while building histories (default 5000)")
    parser.add_argument("--mix-rounds", type=int,
                        help="rounds of the command mix per store (default 7; quick 2)")
    parser.add_argument("--mix-commands", type=int,
                        help="commands per round of the mix (default 400; quick 60)")
    parser.add_argument("--command-ids", action="store_true",
                        help="give every timed command a fresh command_id (exercises the "
                             "idempotency record: one more lookup and one more event)")
    parser.add_argument("--seed", type=int, default=20260302, help="random seed")
    parser.add_argument("--bootstrap", type=int,
                        help="bootstrap resamples for the ratio's 95%% interval "
                             "(default 2000; quick 300)")
    parser.add_argument("--workdir", help="where to make the temporary folder of SQLite "
                                          "files (default: the system's temporary folder); "
                                          "the folder is removed at the end")
    env = os.environ.get
    pg = "PostgreSQL %s (default: $TEST_POSTGRES_%s, as for the tests, else %s)"
    parser.add_argument("--pg-dbname", default=env("TEST_POSTGRES_DBNAME", "test"),
                        help=pg % ("database", "DBNAME", "test") + "; each ledger gets a "
                        "schema of its own there, created and dropped by the benchmark")
    parser.add_argument("--pg-host", default=env("TEST_POSTGRES_HOST", "127.0.0.1"),
                        help=pg % ("host", "HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", default=env("TEST_POSTGRES_PORT", "5432"),
                        help=pg % ("port", "PORT", "5432"))
    parser.add_argument("--pg-user", default=env("TEST_POSTGRES_USER", "postgres"),
                        help=pg % ("user", "USER", "postgres"))
    parser.add_argument("--pg-password", default=env("TEST_POSTGRES_PASSWORD", ""),
                        help=pg % ("password", "PASSWORD", "none"))
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    quick: bool = args.quick

    def pick(value: int | None, full: int, small: int) -> int:
        chosen = value if value is not None else (small if quick else full)
        if chosen < 0:
            raise SystemExit("sizes must not be negative")
        return chosen

    replies = pick(args.replies, 100_000, 2_000)
    stores = (SQLITE, POSTGRES) if args.store == "both" else (args.store,)
    return Config(
        quick=quick,
        stores=stores,
        replies=replies,
        events=pick(args.events, 1_000_000, 20_000),
        pg_replies=pick(args.pg_replies, replies, replies),
        pg_events=pick(args.pg_events, 200_000, 20_000),
        samples=max(1, pick(args.samples, 300, 40)),
        warmup=pick(args.warmup, 20, 5),
        members=max(2, pick(args.members, 30, 8)),
        batch=max(1, args.batch),
        mix_rounds=max(1, pick(args.mix_rounds, 7, 2)),
        mix_commands=max(1, pick(args.mix_commands, 400, 60)),
        command_ids=args.command_ids,
        seed=args.seed,
        bootstrap=pick(args.bootstrap, 2000, 300),
        pg={"POSTGRES_DBNAME": args.pg_dbname, "POSTGRES_HOST": args.pg_host,
            "POSTGRES_PORT": str(args.pg_port), "POSTGRES_USER": args.pg_user,
            "POSTGRES_PASSWORD": args.pg_password},
        workdir=args.workdir,
    )


# ==================================================================================
# Stores: fresh SQLite files and fresh PostgreSQL schemas, removed afterwards
# ==================================================================================
class Stores:
    """Hands out empty stores and removes every one it made."""

    def __init__(self, config: Config) -> None:
        self.pg = config.pg
        if config.workdir is not None:
            Path(config.workdir).mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix="ledger-bench-", dir=config.workdir))
        else:
            self.dir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        self.schemas: list[str] = []
        self.files: list[Path] = []

    def pg_connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            dbname=self.pg["POSTGRES_DBNAME"], host=self.pg["POSTGRES_HOST"],
            port=self.pg["POSTGRES_PORT"], user=self.pg["POSTGRES_USER"],
            password=self.pg["POSTGRES_PASSWORD"] or None, autocommit=True,
            connect_timeout=5,
        )

    def pg_version(self) -> str:
        with self.pg_connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def new(self, store: str, label: str) -> dict[str, str]:
        """The environment of a new, empty store."""
        tag = uuid.uuid4().hex[:8]
        if store == SQLITE:
            path = self.dir / f"{label}-{tag}.db"
            self.files.append(path)
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        schema = f"bench_{label.replace('-', '_')}_{tag}"
        with self.pg_connect() as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres", **self.pg,
                "POSTGRES_SCHEMA": schema}

    def settle(self, env: dict[str, str], app: DialogueLedger) -> None:
        """After a bulk build: fold SQLite's write-ahead log into the database; have
        PostgreSQL analyse the table and checkpoint; then flush the operating system's dirty
        pages, so that none of this happens during the measurements."""
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            with closing(sqlite3.connect(env["SQLITE_DBNAME"])) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            table = events_table(app)
            with self.pg_connect() as conn:
                conn.execute(f'ANALYZE "{env["POSTGRES_SCHEMA"]}"."{table}"')
                conn.execute("CHECKPOINT")
        os.sync()

    def drop(self, env: dict[str, str]) -> None:
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(env["SQLITE_DBNAME"] + suffix).unlink(missing_ok=True)
            return
        schema = env["POSTGRES_SCHEMA"]
        with self.pg_connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if schema in self.schemas:
            self.schemas.remove(schema)

    def size_mb(self, env: dict[str, str], app: DialogueLedger) -> float:
        if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            total = sum(Path(env["SQLITE_DBNAME"] + s).stat().st_size
                        for s in ("", "-wal") if Path(env["SQLITE_DBNAME"] + s).exists())
            return total / 1e6
        table = events_table(app)
        with self.pg_connect() as conn:
            row = conn.execute("SELECT pg_total_relation_size(%s::regclass)",
                               (f'"{env["POSTGRES_SCHEMA"]}"."{table}"',)).fetchone()
        return (int(row[0]) if row else 0) / 1e6

    def close(self) -> None:
        for schema in list(self.schemas):
            try:
                with self.pg_connect() as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            except psycopg.Error as error:
                log(f"could not drop schema {schema}: {error}")
        self.schemas.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def events_table(app: DialogueLedger) -> str:
    return str(getattr(app.recorder, "events_table_name", "dialogueledger_events"))


def postgres_problem(stores: Stores) -> str | None:
    """Why PostgreSQL cannot be used, or None if it answers."""
    try:
        with stores.pg_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip() or type(error).__name__
    return None


# ==================================================================================
# The cast: a community set up through the commands, identical in every ledger
# ==================================================================================
@dataclass
class Cast:
    rep: UUID
    members: list[UUID]
    organisation: UUID
    community: UUID
    thread: UUID
    opening_post: UUID
    side_posts: dict[UUID, UUID]
    nominations: list[UUID]


def opening_post(receipt: Receipt) -> UUID:
    """The opening post of the thread that open_thread answered with (its id derives from
    the thread's)."""
    return opening_post_id(receipt.id)


def set_up_cast(app: DialogueLedger, members: int, nominations: int) -> Cast:
    """An organisation, its invitation-only community, a representative who moderates,
    ``members`` members (the first two also moderate), an empty thread for the replies, one
    post per member (for edits) and ``nominations`` open nominations (for votes)."""
    rep = app.register_person("rep", "The Representative").id
    organisation = app.found_organisation("Northwind Housing", "northwind",
                                          actor_id=rep).id
    community = app.create_community(
        organisation, "Tenants' Voices", "tenants-voices", access=Access.INVITATION_ONLY,
        rule=AdmissionRule(direct_invitations=True), actor_id=rep).id
    app.grant_role(community, rep, Role.MODERATOR, actor_id=rep)
    people: list[UUID] = []
    for i in range(members):
        person = app.register_person(f"member-{i}", f"Member {i}").id
        app.invite_directly(community, person, actor_id=rep)
        app.accept_invitation(community, actor_id=person)
        people.append(person)
    for moderator in people[:2]:
        app.grant_role(community, moderator, Role.MODERATOR, actor_id=rep)
    opened = app.open_thread(community, PostKind.QUESTION, "Rent review 2026",
                             "What will the rent review cover this year?", actor_id=rep)
    first_post = opening_post(opened)
    side = app.open_thread(community, PostKind.CONCERN, "Repairs backlog",
                           "The repairs backlog keeps growing.", actor_id=rep)
    side_opening = opening_post(side)
    side_posts = {person: app.reply(side_opening, f"My repair has waited {i + 2} weeks.",
                                    actor_id=person).id
                  for i, person in enumerate(people)}
    nomination_ids: list[UUID] = []
    for j in range(nominations):
        nominee = app.register_person(f"nominee-{j}", f"Nominee {j}").id
        nomination_ids.append(app.nominate(
            community, nominee, "A long-standing tenant who chairs the residents' group.",
            actor_id=people[j % members]).id)
    return Cast(rep=rep, members=people, organisation=organisation, community=community,
                thread=opened.id, opening_post=first_post, side_posts=side_posts,
                nominations=nomination_ids)


# ==================================================================================
# Bulk histories: domain objects built as the commands would build them, saved in batches
# ==================================================================================
class BulkSaver:
    """Collects new aggregates and saves them thousands of events at a time."""

    def __init__(self, app: DialogueLedger, batch: int, label: str, target: int) -> None:
        self.app = app
        self.batch = batch
        self.label = label
        self.target = target
        self.pending: list[Aggregate] = []
        self.pending_events = 0
        self.saved = 0
        self.started = time.perf_counter()
        self.reported = 0
        self.now = datetime.now(UTC)
        #: The id of one aggregate of each kind built, to compare with the commands' own.
        self.examples: dict[str, UUID] = {}

    @property
    def total(self) -> int:
        return self.saved + self.pending_events

    def act(self, actor_id: UUID) -> Act:
        return Act(actor_id=actor_id, occurred_at=self.now)

    def add(self, *aggregates: Aggregate) -> None:
        """Add aggregates once all their events are pending."""
        for aggregate in aggregates:
            if isinstance(aggregate, Post):
                kind = "reply" if aggregate.parent_id is not None else "opening post"
            else:
                kind = type(aggregate).__name__.lower()
            self.examples.setdefault(kind, aggregate.id)
            self.pending.append(aggregate)
            self.pending_events += len(aggregate.pending_events)
        if self.pending_events >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.app.save(*self.pending)
        self.saved += self.pending_events
        self.pending, self.pending_events = [], 0
        self.now = datetime.now(UTC)
        step = max(self.target // 10, 1)
        if self.saved - self.reported >= step:
            self.reported = self.saved
            elapsed = time.perf_counter() - self.started
            log(f"  {self.label}: {self.saved:,}/{self.target:,} events "
                f"({elapsed:.0f} s, {self.saved / elapsed:,.0f} events/s)")


def build_thread_history(app: DialogueLedger, cast: Cast, replies: int, batch: int,
                         label: str) -> BulkSaver:
    """``replies`` replies to the cast's thread's opening post, by its members (one in
    twenty by the representative, speaking for the organisation)."""
    saver = BulkSaver(app, batch, label, replies)
    authors = cast.members
    for k in range(replies):
        by_rep = k % 20 == 19
        author = cast.rep if by_rep else authors[k % len(authors)]
        saver.add(Post(community_id=cast.community, thread_id=cast.thread,
                       parent_id=cast.opening_post, kind=PostKind.COMMENT,
                       body=BODIES[k % len(BODIES)], for_organisation=by_rep,
                       act=saver.act(author)))
    saver.flush()
    return saver


@dataclass
class HistoryCommunity:
    id: UUID
    members: list[UUID]


def build_ledger_history(app: DialogueLedger, cast: Cast, events: int, batch: int,
                         rng: random.Random, label: str) -> BulkSaver:
    """About ``events`` events of an organisation's dialogue: people, open communities and
    their memberships, then threads of 0-40 replies (some nested, edited, acknowledged,
    hidden by a moderator or retracted), a tenth of them in the cast's community."""
    saver = BulkSaver(app, batch, label, events)
    rep = cast.rep
    n_people = max(20, events // 250)
    n_communities = max(2, events // 20_000)

    people: list[UUID] = []
    for i in range(n_people):
        handle = f"history-{i}"
        person = Person(handle=handle, display_name=f"Person {i}", is_bot=False,
                        act=saver.act(Person.create_id(handle)))
        people.append(person.id)
        saver.add(person)

    communities: list[HistoryCommunity] = []
    for j in range(n_communities):
        slug = f"history-{j}"
        community = Community(organisation_id=cast.organisation, name=f"Community {j}",
                              slug=slug, access=Access.OPEN, rule=AdmissionRule(),
                              act=saver.act(rep))
        founder = Membership(community_id=community.id, person_id=rep, act=saver.act(rep))
        founder.join(via=JoinedVia.FOUNDING, roles=(Role.MEMBER, Role.REPRESENTATIVE),
                     act=saver.act(rep))
        founder.grant_role(role=Role.MODERATOR, moderator_side=Side.ORGANISATION,
                           act=saver.act(rep))
        saver.add(community, founder)
        communities.append(HistoryCommunity(community.id, [rep]))
    for person_id in people:
        for place in rng.sample(communities, 2):
            membership = Membership(community_id=place.id, person_id=person_id,
                                    act=saver.act(person_id))
            membership.join(via=JoinedVia.OPEN, roles=(Role.MEMBER,),
                            act=saver.act(person_id))
            saver.add(membership)
            place.members.append(person_id)
    # A tenth of the people are invited into the cast's community and take part there.
    home = HistoryCommunity(cast.community, [rep, *cast.members])
    for person_id in people[: max(1, n_people // 10)]:
        membership = Membership(community_id=cast.community, person_id=person_id,
                                act=saver.act(rep))
        membership.invite(via=JoinedVia.DIRECT_INVITATION, nomination_id=None,
                          act=saver.act(rep))
        membership.accept_invitation(act=saver.act(person_id))
        saver.add(membership)
        home.members.append(person_id)

    while saver.total < events:
        place = home if rng.random() < 0.1 else rng.choice(communities)
        opener = rng.choice(place.members)
        kind = rng.choice(KINDS)
        thread = Thread(community_id=place.id, kind=kind, title="A question about the "
                        "service charge", nomination_id=None, act=saver.act(opener))
        opening = Post(community_id=place.id, thread_id=thread.id, parent_id=None, kind=kind,
                       body=rng.choice(BODIES), for_organisation=opener == rep,
                       act=saver.act(opener))
        saver.add(thread, opening)
        visible = [opening]
        for _ in range(rng.randint(0, 40)):
            if saver.total >= events:
                break
            author = rng.choice(place.members)
            parent = opening if rng.random() < 0.7 else rng.choice(visible)
            post = Post(community_id=place.id, thread_id=thread.id, parent_id=parent.id,
                        kind=PostKind.COMMENT, body=rng.choice(BODIES),
                        for_organisation=author == rep, act=saver.act(author))
            fate = rng.random()
            extra: list[Aggregate] = []
            if fate < 0.08:
                post.edit(body=rng.choice(BODIES), act=saver.act(author))
            elif fate < 0.13:
                post.acknowledge(act=saver.act(rep))
            elif fate < 0.14:
                decision = ModerationDecision(
                    community_id=place.id, moderator_side=Side.ORGANISATION,
                    action=Action.HIDE_POST, reason_code=ReasonCode.OFF_TOPIC,
                    statement="Off topic for this thread.", post_ids=(post.id,),
                    thread_id=None, member_id=None, affected_person_ids=(author,),
                    automated_detection=False, author_notified=True, act=saver.act(rep))
                post.hide(decision_id=decision.id, reason_code=ReasonCode.OFF_TOPIC.value,
                          act=saver.act(rep))
                extra.append(decision)
            elif fate < 0.15:
                post.retract(act=saver.act(author))
            if post.is_publicly_visible:
                visible.append(post)
            saver.add(post, *extra)
    saver.flush()
    return saver


# ==================================================================================
# Measuring
# ==================================================================================
Op = Callable[[int], object]


@dataclass
class Pair:
    """The same command on the baseline ledger and on the target ledger; sample ``i`` of
    each acts for the same member on the same kind of object."""

    command: str
    baseline: Op
    target: Op


def measure_interleaved(pairs: Sequence[Pair], samples: int,
                        warmup: int) -> dict[str, tuple[list[float], list[float]]]:
    """Latencies in milliseconds, baseline and target alternately, the order flipped every
    sample so neither side always runs first."""
    timings: dict[str, tuple[list[float], list[float]]] = {p.command: ([], []) for p in pairs}
    clock = time.perf_counter_ns
    for i in range(warmup + samples):
        for pair in pairs:
            sides: tuple[tuple[Op, int], ...] = ((pair.baseline, 0), (pair.target, 1))
            if i % 2:
                sides = sides[::-1]
            for op, side in sides:
                started = clock()
                op(i)
                elapsed = clock() - started
                if i >= warmup:
                    timings[pair.command][side].append(elapsed / 1e6)
    return timings


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio_interval(baseline: Sequence[float], target: Sequence[float], resamples: int,
                   rng: random.Random) -> tuple[float, float]:
    """A 95% paired-bootstrap interval of median(target) / median(baseline); pairs are
    resampled together, so slow spells of the machine hit both sides alike."""
    n = min(len(baseline), len(target))
    if n < 2 or resamples < 10:
        ratio = statistics.median(target) / statistics.median(baseline)
        return ratio, ratio
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median([target[i] for i in picks])
                      / statistics.median([baseline[i] for i in picks]))
    return quantile(ratios, 0.025), quantile(ratios, 0.975)


@dataclass
class Comparison:
    target: str  # "1a" or "1b"
    store: str
    command: str
    baseline: str
    history: str
    history_events: int
    samples: int
    baseline_p50_ms: float
    target_p50_ms: float
    baseline_p90_ms: float
    target_p90_ms: float
    ratio: float
    ratio_ci95: tuple[float, float]
    goal: float
    meets_goal: bool
    #: False when the 95% interval straddles the goal: more samples needed to be sure.
    conclusive: bool


def compare(target: str, store: str, baseline: str, history: str, history_events: int,
            timings: dict[str, tuple[list[float], list[float]]], resamples: int,
            rng: random.Random) -> list[Comparison]:
    results = []
    pooled: tuple[list[float], list[float]] = ([], [])
    named = list(timings.items())
    if len(named) > 1:
        for _, (b, t) in named:
            pooled[0].extend(b)
            pooled[1].extend(t)
        named.append(("all of the above", pooled))
    for command, (b, t) in named:
        ratio = statistics.median(t) / statistics.median(b)
        low, high = ratio_interval(b, t, resamples, rng)
        results.append(Comparison(
            target=target, store=store, command=command, baseline=baseline, history=history,
            history_events=history_events, samples=len(t),
            baseline_p50_ms=statistics.median(b), target_p50_ms=statistics.median(t),
            baseline_p90_ms=quantile(b, 0.9), target_p90_ms=quantile(t, 0.9),
            ratio=ratio, ratio_ci95=(low, high), goal=RATIO_GOAL,
            meets_goal=ratio <= RATIO_GOAL, conclusive=not low <= RATIO_GOAL < high))
    return results


@dataclass
class Build:
    store: str
    what: str
    events: int
    seconds: float
    events_per_s: float
    ledger_events: int
    size_mb: float


@dataclass
class Check:
    store: str
    target: str
    kind: str
    same_as_command: bool
    detail: str


@dataclass
class Results:
    checks: list[Check] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    builds: list[Build] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class CommandIds:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self) -> str | None:
        return uuid.uuid4().hex if self.enabled else None


@contextmanager
def opened(env: dict[str, str]) -> Iterator[DialogueLedger]:
    app = DialogueLedger(env)
    try:
        yield app
    finally:
        app.close()


def nominations_needed(config: Config) -> int:
    return -(-(config.warmup + config.samples) // config.members)


def prepare(stores: Stores, config: Config, store: str, label: str,
            build: Callable[[DialogueLedger, Cast], BulkSaver] | None,
            results: Results, what: str) -> tuple[dict[str, str], Cast, dict[str, UUID]]:
    """A new store with the cast set up, then (if ``build``) a bulk history added; settled
    and closed, ready to be reopened for measuring."""
    env = stores.new(store, label)
    examples: dict[str, UUID] = {}
    with opened(env) as app:
        cast = set_up_cast(app, config.members, nominations_needed(config))
        if build is not None:
            started = time.perf_counter()
            saver = build(app, cast)
            saved, examples = saver.saved, saver.examples
            seconds = time.perf_counter() - started
            gc.collect()
            results.builds.append(Build(
                store=store, what=what, events=saved, seconds=seconds,
                events_per_s=saved / seconds if seconds else 0.0,
                ledger_events=app.position, size_mb=stores.size_mb(env, app)))
            log(f"  built {what} on {store}: {saved:,} events in {seconds:.1f} s "
                f"({saved / max(seconds, 1e-9):,.0f} events/s); ledger holds "
                f"{app.position:,} events")
        stores.settle(env, app)
    return env, cast, examples


def check_like_commands(results: Results, store: str, history: str, app: DialogueLedger,
                        pairs: Sequence[tuple[str, UUID | None, UUID]]) -> None:
    """Record whether each bulk-built aggregate's first event has the topic and the fields
    of the same kind of aggregate made by a command (the domain may change under the
    benchmark; a bulk history must stay what the commands would have written)."""
    for kind, bulk_id, command_id in pairs:
        if bulk_id is None:
            results.checks.append(Check(store, history, kind, False, "none built"))
            continue
        bulk = app.recorder.select_events(bulk_id, limit=1)
        made = app.recorder.select_events(command_id, limit=1)
        if not bulk or not made:
            results.checks.append(Check(store, history, kind, False, "events not found"))
            continue
        bulk_fields = set(orjson.loads(bulk[0].state))
        made_fields = set(orjson.loads(made[0].state))
        same = bulk[0].topic == made[0].topic and bulk_fields == made_fields
        detail = "" if same else (f"bulk {bulk[0].topic} {sorted(bulk_fields)}; command "
                                  f"{made[0].topic} {sorted(made_fields)}")
        results.checks.append(Check(store, history, kind, same, detail))
        if not same:
            log(f"!! bulk {kind} differs from the command's: {detail}")


def bench_thread_history(stores: Stores, config: Config, store: str,
                         results: Results, rng: random.Random) -> None:
    """1a: reply to a thread's opening post when the thread holds N replies, versus the
    same reply in a fresh thread of a fresh ledger."""
    replies = config.replies_for(store)
    log(f"1a on {store}: a thread of {replies:,} replies vs a fresh thread")
    fresh_env, fresh_cast, _ = prepare(stores, config, store, "fresh-thread", None, results,
                                       "")
    full_env, full_cast, examples = prepare(
        stores, config, store, "long-thread",
        lambda app, cast: build_thread_history(app, cast, replies, config.batch,
                                               f"thread of {replies:,} replies"),
        results, f"thread of {replies:,} replies")
    ids = CommandIds(config.command_ids)
    try:
        with opened(fresh_env) as fresh, opened(full_env) as full:
            def reply_op(app: DialogueLedger, cast: Cast) -> Op:
                def op(i: int) -> object:
                    author = cast.members[i % len(cast.members)]
                    return app.reply(cast.opening_post, BODIES[i % len(BODIES)],
                                     actor_id=author, command_id=ids())
                return op

            timings = measure_interleaved(
                [Pair("reply", reply_op(fresh, fresh_cast), reply_op(full, full_cast))],
                config.samples, config.warmup)
            results.comparisons.extend(compare(
                "1a", store, "a fresh thread in a fresh ledger",
                f"a thread of {replies:,} replies", full.position, timings,
                config.bootstrap, rng))
            made = full.reply(full_cast.opening_post, "One more.",
                              actor_id=full_cast.members[0]).id
            check_like_commands(results, store, "1a", full,
                                [("reply", examples.get("reply"), made)])
    finally:
        stores.drop(fresh_env)
        stores.drop(full_env)


def bench_ledger_history(stores: Stores, config: Config, store: str,
                         results: Results, rng: random.Random) -> None:
    """1b: typical commands in a ledger of N events, versus a fresh ledger."""
    events = config.events_for(store)
    log(f"1b on {store}: a ledger of {events:,} events vs a fresh ledger")
    fresh_env, fresh_cast, _ = prepare(stores, config, store, "fresh-ledger", None, results,
                                       "")
    history_rng = random.Random(config.seed)
    big_env, big_cast, examples = prepare(
        stores, config, store, "big-ledger",
        lambda app, cast: build_ledger_history(app, cast, events, config.batch, history_rng,
                                               f"ledger of {events:,} events"),
        results, f"ledger of {events:,} events")
    ids = CommandIds(config.command_ids)
    try:
        with opened(fresh_env) as fresh, opened(big_env) as big:
            def ops(app: DialogueLedger, cast: Cast) -> dict[str, Op]:
                members = cast.members

                def reply(i: int) -> object:
                    return app.reply(cast.opening_post, BODIES[i % len(BODIES)],
                                     actor_id=members[i % len(members)], command_id=ids())

                def open_thread(i: int) -> object:
                    return app.open_thread(cast.community, KINDS[i % len(KINDS)],
                                           f"Thread {i}", BODIES[i % len(BODIES)],
                                           actor_id=members[i % len(members)],
                                           command_id=ids())

                def edit_post(i: int) -> object:
                    author = members[i % len(members)]
                    return app.edit_post(cast.side_posts[author], f"Edited, take {i}.",
                                         actor_id=author, command_id=ids())

                def cast_vote(i: int) -> object:
                    nomination = cast.nominations[i // len(members)]
                    choice = Choice.ADMIT if i % 3 else Choice.DECLINE
                    return app.cast_vote(nomination, choice, "I have worked with them.",
                                         actor_id=members[i % len(members)],
                                         command_id=ids())

                return {"reply": reply, "open_thread": open_thread, "edit_post": edit_post,
                        "cast_vote": cast_vote}

            fresh_ops, big_ops = ops(fresh, fresh_cast), ops(big, big_cast)
            pairs = [Pair(name, fresh_ops[name], big_ops[name]) for name in fresh_ops]
            timings = measure_interleaved(pairs, config.samples, config.warmup)
            results.comparisons.extend(compare(
                "1b", store, "a fresh ledger", f"a ledger of {events:,} events",
                big.position, timings, config.bootstrap, rng))
            author = big_cast.members[0]
            thread = big.open_thread(big_cast.community, PostKind.QUESTION, "One more",
                                     "One more thread.", actor_id=author)
            reply = big.reply(opening_post(thread), "One more.", actor_id=author).id
            check_like_commands(results, store, "1b", big, [
                ("reply", examples.get("reply"), reply),
                ("opening post", examples.get("opening post"), opening_post(thread)),
                ("thread", examples.get("thread"), thread.id),
                ("person", examples.get("person"), big_cast.rep),
                ("community", examples.get("community"), big_cast.community),
                ("membership", examples.get("membership"),
                 Membership.create_id(big_cast.community, author)),
            ])
    finally:
        stores.drop(fresh_env)
        stores.drop(big_env)


# ==================================================================================
# 2. Throughput of a typical mix of commands
# ==================================================================================
#: Relative frequency of each kind of act in the mix.
MIX: dict[str, int] = {
    "reply": 40,
    "open_thread": 10,
    "edit_post": 12,
    "acknowledge_post": 10,
    "cast_vote": 15,
    "register_person+nominate": 3,
    "moderate(hide_post)": 5,
    "retract_post": 2,
    "lodge_appeal": 2,
    "decide_appeal": 1,
}


class MixDriver:
    """Carries out a random mix of valid commands, one by one, keeping track of what each
    kind of command can act on."""

    def __init__(self, app: DialogueLedger, cast: Cast, rng: random.Random,
                 ids: CommandIds) -> None:
        self.app, self.cast, self.rng, self.ids = app, cast, rng, ids
        self.voters = [cast.rep, *cast.members]
        self.posts: list[tuple[UUID, UUID]] = [(cast.opening_post, cast.rep)]
        self.posts += [(post, author) for author, post in cast.side_posts.items()]
        self.unacknowledged = [post for post, _ in self.posts]
        self.ballots: dict[UUID, set[UUID]] = {n: set() for n in cast.nominations}
        self.appealable: list[tuple[UUID, UUID]] = []
        self.appealed: list[tuple[UUID, UUID]] = []
        self.nominees = 0
        self.kinds = list(MIX)
        self.weights = [MIX[k] for k in self.kinds]
        self.commands: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {k: [] for k in self.kinds}

    def step(self) -> int:
        """One act of the mix; returns how many commands it took."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        started = time.perf_counter_ns()
        done = getattr(self, "_" + kind.split("(")[0].replace("+", "_"))()
        if not done:  # nothing to act on yet: reply instead
            kind = "reply"
            started = time.perf_counter_ns()
            self._reply()
        self.latencies[kind].append((time.perf_counter_ns() - started) / 1e6)
        count = 2 if kind == "register_person+nominate" else 1
        self.commands[kind] += count
        return count

    def _member(self) -> UUID:
        return self.rng.choice(self.cast.members)

    def _reply(self) -> bool:
        parent, _ = self.rng.choice(self.posts)
        author = self._member()
        receipt = self.app.reply(parent, self.rng.choice(BODIES), actor_id=author,
                                 command_id=self.ids())
        self.posts.append((receipt.id, author))
        self.unacknowledged.append(receipt.id)
        return True

    def _open_thread(self) -> bool:
        author = self._member()
        receipt = self.app.open_thread(self.cast.community, self.rng.choice(KINDS),
                                       "What about the heating?", self.rng.choice(BODIES),
                                       actor_id=author, command_id=self.ids())
        post = opening_post(receipt)
        self.posts.append((post, author))
        self.unacknowledged.append(post)
        return True

    def _edit_post(self) -> bool:
        post, author = self.rng.choice(self.posts)
        self.app.edit_post(post, self.rng.choice(BODIES), actor_id=author,
                           command_id=self.ids())
        return True

    def _acknowledge_post(self) -> bool:
        if not self.unacknowledged:
            return False
        index = self.rng.randrange(len(self.unacknowledged))
        post = self.unacknowledged.pop(index)
        self.app.acknowledge_post(post, actor_id=self.cast.rep, command_id=self.ids())
        return True

    def _cast_vote(self) -> bool:
        open_ones = [n for n, voted in self.ballots.items() if len(voted) < len(self.voters)]
        if not open_ones:
            return False
        nomination = self.rng.choice(open_ones)
        voter = self.rng.choice([v for v in self.voters if v not in self.ballots[nomination]])
        self.app.cast_vote(nomination, self.rng.choice((Choice.ADMIT, Choice.DECLINE)),
                           "I know them from the residents' group.", actor_id=voter,
                           command_id=self.ids())
        self.ballots[nomination].add(voter)
        return True

    def _register_person_nominate(self) -> bool:
        self.nominees += 1
        nominee = self.app.register_person(f"mix-nominee-{self.nominees}",
                                           f"Mix Nominee {self.nominees}",
                                           command_id=self.ids()).id
        nomination = self.app.nominate(self.cast.community, nominee,
                                       "Has helped on every estate walkabout.",
                                       actor_id=self._member(), command_id=self.ids()).id
        self.ballots[nomination] = set()
        return True

    def _take_post(self) -> tuple[UUID, UUID] | None:
        """A random post (and its author) to hide or retract; never the cast's opening post,
        which stays first in the list."""
        if len(self.posts) < 2:
            return None
        return self.posts.pop(self.rng.randrange(1, len(self.posts)))

    def _moderate(self) -> bool:
        taken = self._take_post()
        if taken is None:
            return False
        post, author = taken
        decision = self.app.moderate(self.cast.community, Action.HIDE_POST, ReasonCode.SPAM,
                                     "Advertising.", actor_id=self.cast.rep,
                                     post_ids=[post], author_notified=True,
                                     command_id=self.ids()).id
        self.appealable.append((decision, author))
        return True

    def _retract_post(self) -> bool:
        taken = self._take_post()
        if taken is None:
            return False
        post, author = taken
        self.app.retract_post(post, actor_id=author, command_id=self.ids())
        return True

    def _lodge_appeal(self) -> bool:
        if not self.appealable:
            return False
        decision, author = self.appealable.pop(0)
        self.app.lodge_appeal(decision, "It was not advertising.", actor_id=author,
                              command_id=self.ids())
        self.appealed.append((decision, author))
        return True

    def _decide_appeal(self) -> bool:
        if not self.appealed:
            return False
        decision, appellant = self.appealed.pop(0)
        # A second moderator (the representative took the decision), not the appellant.
        judge = next(m for m in self.cast.members[:2] if m != appellant)
        outcome = AppealOutcome.UPHELD if self.rng.random() < 0.5 else AppealOutcome.REVERSED
        self.app.decide_appeal(decision, outcome, "Reviewed by a second moderator.",
                               actor_id=judge, command_id=self.ids())
        return True


@dataclass
class Throughput:
    store: str
    rounds: int
    commands_per_round: int
    commands_per_s: float
    events_per_s: float
    commands_per_s_range: tuple[float, float]
    events_per_s_range: tuple[float, float]
    commands: int
    events: int
    seconds: float
    events_per_command: float
    mix: dict[str, int]
    median_ms: dict[str, float]


def bench_mix(stores: Stores, config: Config, store_names: Sequence[str],
              results: Results) -> None:
    """Rounds of the mix on each store, the stores taking turns round by round."""
    log(f"2: the command mix on {', '.join(store_names)}")
    envs: dict[str, dict[str, str]] = {}
    apps: dict[str, DialogueLedger] = {}
    drivers: dict[str, MixDriver] = {}
    per_round: dict[str, list[tuple[int, int, float]]] = {s: [] for s in store_names}
    try:
        for store in store_names:
            env, cast, _ = prepare(stores, config, store, "mix", None, results, "")
            envs[store] = env
            apps[store] = DialogueLedger(env)
            drivers[store] = MixDriver(apps[store], cast, random.Random(config.seed),
                                       CommandIds(config.command_ids))
        for store in store_names:  # warm-up, not counted
            for _ in range(min(50, config.mix_commands // 2)):
                drivers[store].step()
        for store in store_names:
            drivers[store].commands.clear()
            drivers[store].latencies = {k: [] for k in MIX}
        for _ in range(config.mix_rounds):
            for store in store_names:
                app, driver = apps[store], drivers[store]
                before = app.position
                commands = 0
                started = time.perf_counter()
                while commands < config.mix_commands:
                    commands += driver.step()
                seconds = time.perf_counter() - started
                per_round[store].append((commands, app.position - before, seconds))
        for store in store_names:
            rounds = per_round[store]
            cps = [c / s for c, _, s in rounds]
            eps = [e / s for _, e, s in rounds]
            commands = sum(c for c, _, _ in rounds)
            events = sum(e for _, e, _ in rounds)
            driver = drivers[store]
            results.throughput.append(Throughput(
                store=store, rounds=len(rounds), commands_per_round=config.mix_commands,
                commands_per_s=statistics.median(cps), events_per_s=statistics.median(eps),
                commands_per_s_range=(min(cps), max(cps)),
                events_per_s_range=(min(eps), max(eps)),
                commands=commands, events=events, seconds=sum(s for _, _, s in rounds),
                events_per_command=events / commands, mix=dict(driver.commands),
                median_ms={k: statistics.median(v) for k, v in driver.latencies.items()
                           if v}))
    finally:
        for store, app in apps.items():
            app.close()
            stores.drop(envs[store])


# ==================================================================================
# Report
# ==================================================================================
def fmt_ms(value: float) -> str:
    return f"{value:.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def verdict(c: Comparison) -> str:
    """'yes' or 'NO' by the ratio of medians; '?' when the 95% interval straddles the goal."""
    return ("yes" if c.meets_goal else "NO") + ("" if c.conclusive else "?")


def report(results: Results, config: Config, meta: dict[str, Any]) -> str:
    out: list[str] = []
    out.append(f"Dialogue Ledger command benchmarks ({'quick' if config.quick else 'full'} "
               f"run, {meta['total_seconds']:.0f} s)")
    source = meta["source"]
    out.append(f"ledger at commit {source['commit'] or '?'}"
               + (f" with uncommitted changes to {len(source['ledger_uncommitted'])} "
                  "file(s) in ledger/" if source["ledger_uncommitted"] else ""))
    out.append(f"python {meta['python']}, eventsourcing {meta['eventsourcing']}, "
               f"SQLite {meta['sqlite']}, PostgreSQL {meta.get('postgres', '-')}, "
               f"{meta['cpus']} CPUs")
    out.append(f"latencies: median (p50) and p90 in ms over {config.samples} samples per "
               f"side after {config.warmup} warm-up calls, baseline and target interleaved; "
               f"ratio = target p50 / baseline p50 (goal <= {RATIO_GOAL}), 95% paired "
               f"bootstrap interval ('?': the interval straddles the goal)")
    if config.quick:
        out.append("quick run: small histories and few samples, a smoke test; its ratios "
                   "are no verdict on the targets")
    for store, why in results.skipped.items():
        out.append(f"!! {store} skipped: {why}")
    for target, title in (("1a", "1a. Reply into a long thread vs a fresh thread in a "
                                 "fresh ledger"),
                          ("1b", "1b. Commands in a big ledger vs a fresh ledger")):
        rows = [[c.store, c.command, c.history, f"{c.history_events:,}",
                 fmt_ms(c.baseline_p50_ms), fmt_ms(c.target_p50_ms),
                 fmt_ms(c.baseline_p90_ms), fmt_ms(c.target_p90_ms), f"{c.ratio:.3f}",
                 f"[{c.ratio_ci95[0]:.2f}, {c.ratio_ci95[1]:.2f}]",
                 verdict(c)]
                for c in results.comparisons if c.target == target]
        if rows:
            out += ["", title, table(
                ["store", "command", "history", "events at end", "fresh p50", "hist p50",
                 "fresh p90", "hist p90", "ratio", "95% CI", "<=1.2"], rows)]
    if results.checks:
        differ = [c for c in results.checks if not c.same_as_command]
        kinds = sorted({c.kind for c in results.checks})
        out += ["", "Bulk-built events have the topics and fields of the commands' own ("
                    f"{', '.join(kinds)}): "
                    + ("yes" if not differ else "NO: " + "; ".join(
                        f"{c.store} {c.target} {c.kind}: {c.detail}" for c in differ))]
    if results.builds:
        rows = [[b.store, b.what, f"{b.events:,}", f"{b.seconds:.1f} s",
                 f"{b.events_per_s:,.0f}", f"{b.ledger_events:,}", f"{b.size_mb:,.0f} MB"]
                for b in results.builds]
        out += ["", "Bulk history builds (domain objects saved in batches of "
                    f"{config.batch:,} events)",
                table(["store", "history", "events saved", "time", "events/s",
                       "ledger events", "events table"], rows)]
    if results.throughput:
        rows = [[t.store, f"{t.events_per_s:,.0f}",
                 f"{t.events_per_s_range[0]:,.0f}-{t.events_per_s_range[1]:,.0f}",
                 f"{t.commands_per_s:,.0f}",
                 f"{t.commands_per_s_range[0]:,.0f}-{t.commands_per_s_range[1]:,.0f}",
                 f"{t.events_per_command:.2f}", f"{t.commands:,}", f"{t.rounds}"]
                for t in results.throughput]
        out += ["", f"2. A typical mix of commands, one by one (medians over rounds of "
                    f"{config.mix_commands} commands, stores taking turns)",
                table(["store", "events/s", "range", "commands/s", "range",
                       "events/command", "commands", "rounds"], rows)]
        kinds = list(MIX)
        rows = [[k, *[fmt_ms(t.median_ms.get(k, float("nan"))) for t in results.throughput],
                 *[str(t.mix.get(k, 0)) for t in results.throughput]] for k in kinds]
        out += ["", "   median latency (ms) and commands run, by kind of act",
                table(["act", *[f"{t.store} p50" for t in results.throughput],
                       *[f"{t.store} n" for t in results.throughput]], rows)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = make_config(args)
    started = time.perf_counter()
    rng = random.Random(config.seed)
    results = Results()
    stores = Stores(config)
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": _version("eventsourcing"),
        "psycopg": _version("psycopg"),
        "source": _source_state(),
    }
    names = list(config.stores)
    try:
        if POSTGRES in names:
            problem = postgres_problem(stores)
            if problem is not None:
                if args.store == POSTGRES:
                    raise SystemExit(f"PostgreSQL is not reachable: {problem}")
                results.skipped[POSTGRES] = f"not reachable: {problem}"
                names.remove(POSTGRES)
                log(f"PostgreSQL not reachable, skipped: {problem}")
            else:
                meta["postgres"] = stores.pg_version()
        for store in names:
            bench_thread_history(stores, config, store, results, rng)
        for store in names:
            bench_ledger_history(stores, config, store, results, rng)
        if names:
            bench_mix(stores, config, names, results)
    finally:
        stores.close()
    meta["total_seconds"] = time.perf_counter() - started
    print(report(results, config, meta))
    if args.json:
        payload = {"meta": meta, "config": asdict(config) | {"pg": {
            k: v for k, v in config.pg.items() if k != "POSTGRES_PASSWORD"}},
            "comparisons": [asdict(c) for c in results.comparisons],
            "builds": [asdict(b) for b in results.builds],
            "checks": [asdict(c) for c in results.checks],
            "throughput": [asdict(t) for t in results.throughput],
            "skipped": results.skipped}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    return 0


def _source_state() -> dict[str, Any]:
    """Which commit of the ledger was measured, and any uncommitted change to ledger/
    (read-only git queries; empty when git is not available)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changes = git("status", "--porcelain", "--", "ledger")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "ledger_uncommitted": changes.splitlines() if changes else []}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
