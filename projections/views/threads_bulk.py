"""Rebuilding the threads view in bulk: its four high-volume kinds of event, set-based in SQL.

A rebuild reads most of the ledger's events only to write posts, their versions,
acknowledgements and threads. Turning each of those events into Python objects and each row
back into SQL parameters costs several times more than reading and decoding the event
(measured in ``benchmarks/rebuild.py``). So for a range of positions, the database itself
decodes the JSON of ``Thread.Opened``, ``Post.Published``, ``Post.Edited`` and
``Post.Acknowledged`` events and writes their rows with ``INSERT … SELECT`` and
``UPDATE … FROM``; the view's other events (retractions, moderation, locks) then go through
the ordinary handlers in :mod:`projections.views.threads`. A range the SQL cannot apply (an
event the database cannot decode: a NUL, which PostgreSQL's ``jsonb`` refuses and SQLite's
JSON functions cut strings at) fails, and the projector applies it with the handlers instead.

Splitting a range so is exact, not an approximation: those other handlers only change a post's
retraction and moderation (and, through them, its thread's visible counts by the difference
they make) and a thread's lock, which the four bulk kinds never touch, and the bulk kinds only
create rows or add to counts and maxima; so the two parts commute. The rebuild tests compare
a bulk rebuild with views kept by the handlers alone, table by table, on both stores.

This path is used by :meth:`Projector.rebuild`; following the ledger uses the handlers.
Needs SQLite 3.33 (``UPDATE … FROM``) or PostgreSQL 10.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from projections.tables import Dialect
from projections.topics import topic_of
from projections.view import Scratch

OPENED, PUBLISHED, EDITED, ACKNOWLEDGED = (
    "Thread.Opened", "Post.Published", "Post.Edited", "Post.Acknowledged")
KINDS = (OPENED, PUBLISHED, EDITED, ACKNOWLEDGED)
CODES = {OPENED: "O", PUBLISHED: "P", EDITED: "E", ACKNOWLEDGED: "A"}

#: The library stores a UUID on SQLite as its 32 hex digits; views use its text form.
_SQLITE_ID = ("CASE WHEN length(originator_id) = 32 THEN substr(originator_id, 1, 8)"
              " || '-' || substr(originator_id, 9, 4) || '-' || substr(originator_id, 13, 4)"
              " || '-' || substr(originator_id, 17, 4) || '-' || substr(originator_id, 21)"
              " ELSE originator_id END")

# An ISO 8601 UTC time (``2026-09-01T10:00:00[.123456]+00:00``, as the ledger writes it) in
# microseconds since the epoch, exactly as ``projections.change.to_us`` computes it.
_SQLITE_US = ("(CAST(strftime('%s', substr({t}, 1, 19)) AS INTEGER) * 1000000 + CASE WHEN "
              "substr({t}, 20, 1) = '.' THEN CAST(substr({t}, 21, 6) AS INTEGER) ELSE 0 END)")
_POSTGRES_US = ("(CAST(EXTRACT(EPOCH FROM CAST(substr({t}, 1, 19) AS timestamp)) AS BIGINT)"
                " * 1000000 + CASE WHEN substr({t}, 20, 1) = '.' THEN "
                "CAST(substr({t}, 21, 6) AS BIGINT) ELSE 0 END)")

_COLUMNS = ("position", "kind", "id", "actor", "us", "thread_id", "community_id",
            "parent_id", "post_kind", "body", "for_organisation", "title", "nomination_id")


#: The scratch tables' names, as the statements below write them.
_SCRATCH_TABLE = re.compile(r"(?<![\w.\"])bulk_(events|posts|threads)\b")


class _Statements(NamedTuple):
    make: tuple[str, ...]
    load: str
    totals: tuple[str, ...]
    apply: tuple[tuple[str, bool], ...]


def time_us(dialect: Dialect, iso: str) -> str:
    """SQL for the microseconds since the epoch of the ISO time ``iso`` (an SQL expression)."""
    return (_SQLITE_US if dialect is Dialect.SQLITE else _POSTGRES_US).format(t=iso)


class ThreadsBulk:
    """Applies the four bulk kinds of a range of positions to the threads view's tables."""

    scratch_tables: tuple[str, ...] = ("bulk_events", "bulk_posts", "bulk_threads")

    def __init__(self, dialect: Dialect, events_table: str, prefix: str) -> None:
        self.dialect = dialect
        self.topics = {topic_of(kind): CODES[kind] for kind in KINDS}
        sqlite = dialect is Dialect.SQLITE
        kind = "CASE topic " + " ".join(
            f"WHEN {self._param} THEN '{code}'" for code in self.topics.values()) + " END"
        if sqlite:  # json_extract parses each event's JSON once (SQLite caches it per row)
            def f(path: str) -> str:
                return f"json_extract(j, '$.{path}')"

            fields = (f"position, {kind}, id, {f('act.actor_id')}, "
                      f"{time_us(dialect, f('act.occurred_at'))}, {f('thread_id')}, "
                      f"{f('community_id')}, {f('parent_id')}, {f('kind')}, {f('body')}, "
                      f"{f('for_organisation')}, {f('title')}, {f('nomination_id')}")
            # SQLite's JSON functions cut a string at a NUL: a range with one (an escaped
            # NUL, ``\u0000``) fails, and the projector applies it with the handlers.
            source = (f"(SELECT rowid AS position, topic, {_SQLITE_ID} AS id, "
                      f"CAST(state AS TEXT) AS j FROM {events_table} WHERE rowid >= ? AND "
                      "rowid <= ? AND topic IN (?, ?, ?, ?) AND CASE WHEN "
                      "instr(state, X'5C7530303030') > 0 THEN json('NUL') ELSE 1 END) e")
        else:  # json_to_record parses each event's JSON once
            fields = (f"notification_id, {kind}, CAST(originator_id AS TEXT), a.actor_id, "
                      f"{time_us(dialect, 'a.occurred_at')}, r.thread_id, r.community_id, "
                      "r.parent_id, r.kind, r.body, CAST(r.for_organisation AS INTEGER), "
                      "r.title, r.nomination_id")
            source = (f"{events_table} e, LATERAL jsonb_to_record(CAST(convert_from(e.state, "
                      "'UTF8') AS jsonb)) AS r(act jsonb, thread_id text, community_id text, "
                      "parent_id text, kind text, body text, for_organisation boolean, "
                      "title text, nomination_id text), LATERAL jsonb_to_record(r.act) AS "
                      "a(actor_id text, occurred_at text) WHERE e.notification_id >= %s AND "
                      "e.notification_id <= %s AND e.topic IN (%s, %s, %s, %s)")
        greatest = "max" if sqlite else "GREATEST"
        p = prefix
        integer_key = "INTEGER" if sqlite else "BIGINT"
        #: The range's events, decoded; then per post (edited or acknowledged in the range)
        #: and per thread (posted to in the range), what the range adds. A post published
        #: in the range is ``here`` (its thread known from its publication): the view's
        #: tables need not be searched for it.
        self._create = (
            f"bulk_events (position {integer_key} PRIMARY KEY, kind TEXT, id TEXT, "
            "actor TEXT, us BIGINT, thread_id TEXT, community_id TEXT, parent_id TEXT, "
            "post_kind TEXT, body TEXT, for_organisation INTEGER, title TEXT, "
            "nomination_id TEXT)",
            "bulk_posts (id TEXT PRIMARY KEY, edits BIGINT, last_edit BIGINT, acks BIGINT, "
            "here INTEGER, thread_id TEXT)",
            "bulk_threads (id TEXT PRIMARY KEY, posts BIGINT, org_replies BIGINT, "
            "last_us BIGINT)",
        )
        self._load = (f"INSERT INTO bulk_events ({', '.join(_COLUMNS)}) SELECT {fields} "
                      f"FROM {source}")
        self._totals = (
            "INSERT INTO bulk_posts (id, edits, last_edit, acks, here, thread_id) SELECT id, "
            "sum(CASE WHEN kind = 'E' THEN 1 ELSE 0 END), "
            "max(CASE WHEN kind = 'E' THEN position END), "
            "sum(CASE WHEN kind = 'A' THEN 1 ELSE 0 END), "
            "max(CASE WHEN kind = 'P' THEN 1 ELSE 0 END), "
            "max(CASE WHEN kind = 'P' THEN thread_id END) FROM bulk_events "
            "WHERE kind IN ('E', 'A', 'P') GROUP BY id "
            "HAVING max(CASE WHEN kind = 'P' THEN 0 ELSE 1 END) = 1",
            # A post published is visible; an organisation's reply counts as such.
            "INSERT INTO bulk_threads (id, posts, org_replies, last_us) SELECT thread_id, "
            "count(*), sum(CASE WHEN for_organisation = 1 AND parent_id IS NOT NULL THEN 1 "
            "ELSE 0 END), max(us) FROM bulk_events WHERE kind = 'P' GROUP BY thread_id",
        )
        earlier = "position < ?"  # made before the range
        self._statements: tuple[tuple[str, bool], ...] = (
            # A post edited for the first time keeps its first version (the post as
            # published); the edits are numbered after the versions the post already has.
            (f"INSERT INTO {p}post_versions (post_id, version, body, actor_id, occurred_us, "
             f"position) SELECT p.id, 1, p.body, p.author_id, p.published_us, p.position FROM"
             f" bulk_posts b JOIN {p}posts p ON p.id = b.id WHERE b.edits > 0 AND b.here = 0 "
             "AND p.versions = 1", False),
            (f"INSERT INTO {p}post_versions (post_id, version, body, actor_id, occurred_us, "
             "position) SELECT e.id, 1, e.body, e.actor, e.us, e.position FROM bulk_events e "
             "JOIN bulk_posts b ON b.id = e.id WHERE e.kind = 'P' AND b.edits > 0", False),
            (f"INSERT INTO {p}post_versions (post_id, version, body, actor_id, occurred_us, "
             "position) SELECT e.id, CASE WHEN b.here = 1 THEN 1 ELSE coalesce((SELECT "
             f"p.versions FROM {p}posts p WHERE p.id = e.id), 1) END + row_number() OVER "
             "(PARTITION BY e.id ORDER BY e.position), e.body, e.actor, e.us, e.position FROM "
             "bulk_events e JOIN bulk_posts b ON b.id = e.id WHERE e.kind = 'E'", False),
            # Threads: opened in the range, or before it.
            (f"INSERT INTO {p}threads (id, community_id, kind, title, opener_id, nomination_id,"
             " opened_us, locked, post_count, visible_post_count, org_reply_count, "
             "last_activity_us, position) SELECT e.id, e.community_id, e.post_kind, e.title, "
             "e.actor, e.nomination_id, e.us, 0, coalesce(t.posts, 0), coalesce(t.posts, 0), "
             f"coalesce(t.org_replies, 0), {greatest}(e.us, coalesce(t.last_us, e.us)), "
             "e.position FROM bulk_events e LEFT JOIN bulk_threads t ON t.id = e.id "
             "WHERE e.kind = 'O'", False),
            (f"UPDATE {p}threads SET post_count = post_count + t.posts, visible_post_count = "
             "visible_post_count + t.posts, org_reply_count = org_reply_count + "
             f"t.org_replies, last_activity_us = {greatest}(last_activity_us, t.last_us) "
             f"FROM bulk_threads t WHERE {p}threads.id = t.id AND {p}threads.{earlier}", True),
            # Posts: published in the range (as the range leaves them), or before it.
            (f"INSERT INTO {p}posts (id, thread_id, community_id, parent_id, author_id, kind, "
             "for_organisation, body, versions, published_us, edited_us, retracted, moderation,"
             " moderation_decision_id, moderation_reason, moderation_actor_id, moderation_us, "
             "standing, ack_count, position) SELECT e.id, e.thread_id, e.community_id, "
             "e.parent_id, e.actor, e.post_kind, e.for_organisation, coalesce(x.body, e.body), "
             "1 + coalesce(b.edits, 0), e.us, x.us, 0, NULL, NULL, NULL, NULL, NULL, '[]', "
             "coalesce(b.acks, 0), e.position FROM bulk_events e LEFT JOIN bulk_posts b "
             "ON b.id = e.id LEFT JOIN bulk_events x ON x.position = b.last_edit "
             "WHERE e.kind = 'P'", False),
            (f"UPDATE {p}posts SET versions = versions + b.edits, body = coalesce(x.body, "
             f"{p}posts.body), edited_us = coalesce(x.us, {p}posts.edited_us), ack_count = "
             f"ack_count + b.acks FROM bulk_posts b LEFT JOIN bulk_events x ON x.position = "
             f"b.last_edit WHERE b.here = 0 AND {p}posts.id = b.id AND {p}posts.{earlier}",
             True),
            # Acknowledgements (a representative acknowledges a post once).
            (f"INSERT INTO {p}acknowledgements (post_id, by_id, occurred_us, position) "
             "SELECT id, actor, us, position FROM bulk_events WHERE kind = 'A'", False),
            # An edit is activity in its post's thread.
            (f"UPDATE {p}threads SET last_activity_us = {greatest}(last_activity_us, x.us) "
             "FROM (SELECT coalesce(b.thread_id, (SELECT p.thread_id FROM "
             f"{p}posts p WHERE p.id = b.id)) AS thread_id, max(e.us) AS us FROM bulk_posts b "
             "JOIN bulk_events e ON e.position = b.last_edit WHERE b.edits > 0 GROUP BY 1) x "
             f"WHERE {p}threads.id = x.thread_id", False),
        )
        self._statements = tuple((dialect.sql(sql), before) for sql, before in self._statements)

    @property
    def _param(self) -> str:
        return "?" if self.dialect is Dialect.SQLITE else "%s"

    @functools.cache  # noqa: B019 (one scratch per range of a rebuild, a few in all)
    def _in(self, scratch: Scratch) -> _Statements:
        """The statements, with the scratch tables named as ``scratch`` names them."""
        def named(sql: str) -> str:
            return _SCRATCH_TABLE.sub(lambda m: scratch.table(m.group(0)), sql)

        return _Statements(
            make=(*(f"{scratch.create} {named(table)}{scratch.suffix}" for table in self._create),
                  *(f"DELETE FROM {scratch.table(name)}" for name in self.scratch_tables)),
            load=named(self._load), totals=tuple(map(named, self._totals)),
            apply=tuple((named(sql), before) for sql, before in self._statements))

    def extract_in(self, cursor: Any, start: int, stop: int, scratch: Scratch) -> None:
        statements = self._in(scratch)
        for statement in statements.make:
            cursor.execute(statement)
        topics = tuple(self.topics)
        cursor.execute(statements.load, (*topics, start, stop, *topics))
        for statement in statements.totals:
            cursor.execute(statement)

    def apply_in(self, cursor: Any, start: int, scratch: Scratch) -> None:
        for statement, before_range in self._in(scratch).apply:
            cursor.execute(statement, (start,) if before_range else ())
