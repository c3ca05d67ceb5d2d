"""Compliance exports of moderation decisions: a streaming reader over the ``decisions`` view
table and three writers (CSV, JSON Lines, DSA Statements of Reasons).

**Streaming.** :class:`DecisionReader` reads one community at a time, in pages of at most
``page_size`` rows (keyset pagination on ``position``, served by the table's
``(community_id, position)`` index), each page in its own short read transaction. Only one
page is held at a time, and the writers hold one row (CSV, JSON Lines) or one batch of at
most 100 statements (DSA), so memory does not grow with the history. The reader fixes the
view's position when it is made: decisions recorded while an export runs are left out, so a
count taken first (for a progress bar) matches what is read.

**Order.** Communities by slug, then decisions in the order they were taken (ledger
position).

**Columns** (CSV and JSON Lines alike; see ``docs/compliance-exports.md``): ``decision_id``,
``position``, ``community_id``, ``community_slug``, ``decided_at``, ``action``,
``reason_code``, ``statement``, ``moderator_side``, ``automated_detection``,
``author_notified``, ``notice``, ``notified_at``, ``post_ids``, ``thread_id``, ``member_id``,
``appeal_status``, ``appeal_lodged_at``, ``appeal_decided_at``, ``appeal_reasons``. Left out
on purpose: who moderated, who appealed and who reviewed (person ids), the appellant's own
statement, the affected people, and any post body; auditors find them in the ledger.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import orjson

from ledger.errors import InvalidInput, NotFound
from projections.change import EPOCH, MICROSECOND, from_us
from projections.runner import Projector
from projections.store import Row
from replay.dsa import MAX_BATCH, DsaOptions, to_statement, validate_statement

#: Rows per query: bounded, so memory stays flat however long the history.
PAGE_SIZE = 500

COLUMNS = (
    "decision_id", "position", "community_id", "community_slug", "decided_at", "action",
    "reason_code", "statement", "moderator_side", "automated_detection", "author_notified",
    "notice", "notified_at", "post_ids", "thread_id", "member_id", "appeal_status",
    "appeal_lodged_at", "appeal_decided_at", "appeal_reasons",
)

# Only the columns the exports need: no person ids, no appeal statement.
_SELECT = """
SELECT d.id, d.position, d.community_id, d.decided_us, d.action, d.reason_code, d.statement,
       d.moderator_side, d.automated_detection, d.author_notified, d.notice, d.notice_us,
       d.post_ids, d.thread_id, d.member_id, d.appeal_status, d.appeal_lodged_us,
       d.appeal_decided_us, d.appeal_reasons,
       (SELECT MIN(p.published_us) FROM {prefix}decision_posts dp
          JOIN {prefix}posts p ON p.id = dp.post_id
         WHERE dp.decision_id = d.id) AS first_post_us,
       (SELECT t.opened_us FROM {prefix}threads t WHERE t.id = d.thread_id) AS thread_opened_us
  FROM {prefix}decisions d
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """One moderation decision as the exports see it. Times are microseconds since the
    epoch (UTC). ``content_us``: when the affected content was published (the earliest
    affected post, or the locked thread's opening), None for a member decision."""

    id: str
    position: int
    community_id: str
    community_slug: str
    decided_us: int
    action: str
    reason_code: str
    statement: str
    moderator_side: str
    automated_detection: bool
    author_notified: bool
    notice: str | None
    notified_us: int | None
    post_ids: tuple[str, ...]
    thread_id: str | None
    member_id: str | None
    appeal_status: str
    appeal_lodged_us: int | None
    appeal_decided_us: int | None
    appeal_reasons: str | None
    content_us: int | None

    @classmethod
    def from_row(cls, row: Row, community_slug: str) -> Decision:
        content_us = row["first_post_us"]
        if content_us is None:
            content_us = row["thread_opened_us"]
        return cls(
            id=row["id"], position=row["position"], community_id=row["community_id"],
            community_slug=community_slug, decided_us=row["decided_us"],
            action=row["action"], reason_code=row["reason_code"], statement=row["statement"],
            moderator_side=row["moderator_side"],
            automated_detection=bool(row["automated_detection"]),
            author_notified=bool(row["author_notified"]), notice=row["notice"],
            notified_us=row["notice_us"],
            post_ids=tuple(orjson.loads(row["post_ids"] or "[]")),
            thread_id=row["thread_id"], member_id=row["member_id"],
            appeal_status=row["appeal_status"] or "none",
            appeal_lodged_us=row["appeal_lodged_us"],
            appeal_decided_us=row["appeal_decided_us"],
            appeal_reasons=row["appeal_reasons"], content_us=content_us)

    def record(self) -> dict[str, Any]:
        """The decision as a flat JSON-ready object, keyed by :data:`COLUMNS`."""
        return {
            "decision_id": self.id,
            "position": self.position,
            "community_id": self.community_id,
            "community_slug": self.community_slug,
            "decided_at": from_us(self.decided_us),
            "action": self.action,
            "reason_code": self.reason_code,
            "statement": self.statement,
            "moderator_side": self.moderator_side,
            "automated_detection": self.automated_detection,
            "author_notified": self.author_notified,
            "notice": self.notice,
            "notified_at": from_us(self.notified_us),
            "post_ids": list(self.post_ids),
            "thread_id": self.thread_id,
            "member_id": self.member_id,
            "appeal_status": self.appeal_status,
            "appeal_lodged_at": from_us(self.appeal_lodged_us),
            "appeal_decided_at": from_us(self.appeal_decided_us),
            "appeal_reasons": self.appeal_reasons,
        }


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    if moment.tzinfo is None:
        raise InvalidInput("times must carry a time zone", value=moment.isoformat())
    return (moment - EPOCH) // MICROSECOND


class DecisionReader:
    """The decisions of the given communities (every community by default) taken in
    ``[start, end)``, read page by page (see the module's docstring). Iterate it as often
    as needed; :meth:`count` counts the same decisions."""

    def __init__(self, projector: Projector, *, community_ids: Sequence[str] = (),
                 start: datetime | None = None, end: datetime | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        if page_size < 1:
            raise InvalidInput("the page size must be positive", field="page_size")
        self.start_us = to_us(start) if start is not None else None
        self.end_us = to_us(end) if end is not None else None
        if self.start_us is not None and self.end_us is not None \
                and self.start_us >= self.end_us:
            raise InvalidInput("the period is empty: --from must be before --to")
        self.page_size = page_size
        self._moderation = projector.store("moderation")
        directory = projector.store("directory")
        #: The view position the export reads up to.
        self.position = self._moderation.position()
        wanted = sorted({str(c) for c in community_ids})
        if wanted:
            marks = ", ".join("?" for _ in wanted)
            rows = directory.query(
                f"SELECT id, slug FROM {{prefix}}communities WHERE id IN ({marks})", wanted)
            missing = set(wanted) - {row["id"] for row in rows}
            if missing:
                raise NotFound("no such community", id=", ".join(sorted(missing)))
        else:
            rows = directory.query("SELECT id, slug FROM {prefix}communities")
        #: ``(community id, slug)`` in the order they are read.
        self.communities: list[tuple[str, str]] = sorted(
            ((row["id"], row["slug"]) for row in rows), key=lambda c: (c[1], c[0]))

    def _where(self, community_id: str) -> tuple[str, list[Any]]:
        sql = " WHERE d.community_id = ? AND d.position <= ?"
        params: list[Any] = [community_id, self.position]
        if self.start_us is not None:
            sql += " AND d.decided_us >= ?"
            params.append(self.start_us)
        if self.end_us is not None:
            sql += " AND d.decided_us < ?"
            params.append(self.end_us)
        return sql, params

    def count(self) -> int:
        total = 0
        for community_id, _ in self.communities:
            where, params = self._where(community_id)
            rows = self._moderation.query(
                "SELECT COUNT(*) AS n FROM {prefix}decisions d" + where, params)
            total += int(rows[0]["n"])
        return total

    def __iter__(self) -> Iterator[Decision]:
        for community_id, slug in self.communities:
            where, params = self._where(community_id)
            after = 0
            while True:
                rows = self._moderation.query(
                    _SELECT + where + " AND d.position > ? ORDER BY d.position LIMIT ?",
                    [*params, after, self.page_size])
                for row in rows:
                    yield Decision.from_row(row, slug)
                if len(rows) < self.page_size:
                    break
                after = rows[-1]["position"]


# =========================================================================================
# Writers
# =========================================================================================
def write_csv(rows: Iterable[Decision], out: TextIO) -> int:
    """RFC 4180 CSV: a header row, then one row per decision; CRLF line ends, fields quoted
    when they hold a comma, quote or line break. Empty for none; booleans ``true`` and
    ``false``; ``post_ids`` separated by spaces; times ISO 8601 UTC. Open ``out`` with
    ``newline=""``. Returns the number of decisions written."""
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    written = 0
    for decision in rows:
        record = decision.record()
        writer.writerow([_csv_value(record[name]) for name in COLUMNS])
        written += 1
    return written


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def write_jsonl(rows: Iterable[Decision], out: TextIO) -> int:
    """JSON Lines: one object per decision (the CSV columns as keys, typed values: booleans,
    ``post_ids`` a list, null for none). Returns the number of decisions written."""
    written = 0
    for decision in rows:
        out.write(orjson.dumps(decision.record()).decode())
        out.write("\n")
        written += 1
    return written


@dataclass(frozen=True)
class DsaSummary:
    statements: int
    batches: int
    #: Lifting decisions (restore, unlock, reinstate): not statements of reasons.
    skipped: int


class InvalidStatement(InvalidInput):
    code = "invalid-statement"


def write_dsa(rows: Iterable[Decision], out: TextIO, options: DsaOptions, *,
              batch_size: int = MAX_BATCH) -> DsaSummary:
    """DSA Transparency Database Statements of Reasons, as JSON Lines of batches: each line
    is ``{"statements": [...]}`` with at most ``batch_size`` (≤ 100) statements, the body of
    one ``POST /api/v1/statements``. Lifting decisions are skipped and counted. Every
    statement is validated first: one the database would refuse raises
    :class:`InvalidStatement` (the database refuses a whole batch for one bad statement)."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise InvalidInput(f"a batch holds 1 to {MAX_BATCH} statements", field="batch_size")
    batch: list[dict[str, Any]] = []
    statements = batches = skipped = 0

    def flush() -> None:
        nonlocal batches
        out.write(orjson.dumps({"statements": batch}).decode())
        out.write("\n")
        batches += 1
        batch.clear()

    for decision in rows:
        statement = to_statement(decision, options)
        if statement is None:
            skipped += 1
            continue
        errors = validate_statement(statement)
        if errors:
            raise InvalidStatement("a decision does not make a valid statement of reasons",
                                   decision_id=decision.id, errors="; ".join(errors))
        batch.append(statement)
        statements += 1
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return DsaSummary(statements=statements, batches=batches, skipped=skipped)
