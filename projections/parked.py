"""Events a view could not apply: parked (dead letters), so that no single event stops a view.

When a view fails on an event, whatever it is retried alone (a stored event written by an
older version or an importer, which the views' code cannot handle), the projector records it
here, with the error, in the same transaction as the view's tracking position moves past it,
and carries on (see :meth:`projections.runner.Projector.catch_up`). Each generation of view
tables has its own table of parked events (``<prefix>parked_events``): a rebuild starts from
scratch, so a new generation's parked events are only those that still fail.

``/readyz`` answers 503 while any event is parked, ``/metrics`` counts them, and
``dialogue-ledger parked retry`` (:meth:`Projector.retry_parked`) applies them again once the
code is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from projections.change import EPOCH, MICROSECOND, Change, from_us
from projections.tables import INT, TEXT, Dialect, Table
from projections.topics import topic_of

TABLE = Table("parked_events", (
    ("view_name", TEXT), ("position", INT), ("originator_id", TEXT),
    ("originator_version", INT), ("topic", TEXT), ("error_class", TEXT),
    ("error_message", TEXT), ("parked_us", INT)), key=("view_name", "position"))

#: The longest error message kept.
MESSAGE_LIMIT = 1_000


class Parked(NamedTuple):
    view: str
    position: int
    originator_id: str
    originator_version: int
    topic: str
    error_class: str
    error_message: str
    parked_us: int

    def as_dict(self) -> dict[str, Any]:
        """As ``/readyz`` and the command line show it."""
        return {"view": self.view, "position": self.position,
                "originator_id": self.originator_id, "topic": self.topic,
                "error": f"{self.error_class}: {self.error_message}",
                "parked_at": from_us(self.parked_us)}


def describe(error: BaseException) -> tuple[str, str]:
    """An error's class and message as text any database holds (no NUL, no lone
    surrogates: the message may quote the event's hostile text), the message shortened."""
    message = str(error)[:MESSAGE_LIMIT].replace("\x00", "\\x00")
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}", message


class ParkedEvents:
    """The parked events of one generation of view tables (``prefix``)."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore, prefix: str) -> None:
        self.datastore = datastore
        self.prefix = prefix
        if isinstance(datastore, PostgresDatastore):
            self.dialect, self.schema = Dialect.POSTGRES, f'"{datastore.schema}".'
        else:
            self.dialect, self.schema = Dialect.SQLITE, ""
        self.table = f"{self.schema}{prefix}{TABLE.name}"
        self._insert = self.dialect.sql(
            f"INSERT INTO {self.table} ({', '.join(TABLE.column_names)}) VALUES "
            f"({', '.join('?' for _ in TABLE.columns)})")
        self._delete = self.dialect.sql(
            f"DELETE FROM {self.table} WHERE view_name = ? AND position = ? "
            "RETURNING position")
        self._update = self.dialect.sql(
            f"UPDATE {self.table} SET error_class = ?, error_message = ? "
            "WHERE view_name = ? AND position = ?")

    def create(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in TABLE.create(self.prefix, self.schema):
                cursor.execute(statement)

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(TABLE.drop(f"{self.schema}{self.prefix}"))

    # --- within a view's transaction ------------------------------------------------------
    def park_in(self, cursor: Any, view: str, change: Change, error: BaseException) -> None:
        error_class, message = describe(error)
        now = (datetime.now(UTC) - EPOCH) // MICROSECOND
        cursor.execute(self._insert, (view, change.position, change.id, change.version,
                                      topic_of(change.kind), error_class, message, now))

    def remove_in(self, cursor: Any, view: str, position: int) -> bool:
        """Take a parked event off the list; False if it was not (or no longer) there."""
        cursor.execute(self._delete, (view, position))
        return cursor.fetchone() is not None

    def clear_in(self, cursor: Any, view: str) -> None:
        """Forget a view's parked events (a rebuild of the view from scratch)."""
        cursor.execute(self.dialect.sql(f"DELETE FROM {self.table} WHERE view_name = ?"),
                       (view,))

    def still_failing(self, view: str, position: int, error: BaseException) -> None:
        """Record the error a parked event fails with now."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._update, (*describe(error), view, position))

    # --- reading --------------------------------------------------------------------------
    def list(self, limit: int | None = None) -> list[Parked]:
        """The parked events, in the order they were recorded in the ledger."""
        sql = (f"SELECT {', '.join(TABLE.column_names)} FROM {self.table} "
               "ORDER BY position, view_name")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql)
            return [Parked(*(row[name] for name in TABLE.column_names))
                    for row in cursor.fetchall()]

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) AS n FROM {self.table}")
            row = cursor.fetchone()
        return int(row["n"]) if row is not None else 0
