"""The few questions about the event store that eventsourcing does not answer itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


class NothingRecorded(OperationalError):
    """A store error known to have happened before a command wrote anything (while it read
    and decided, or waited for the insert lock): nothing was recorded, and an answer may say
    so. Any other store error raised while a command ran may have followed its commit."""


def failed_before_writing(recorder: ApplicationRecorder, error: PersistenceError) -> bool:
    """Whether a store error raised by a save is known to have left nothing recorded: on
    SQLite, a commit that fails has not happened (the file is local, the commit synchronous);
    on PostgreSQL, only a lock timeout (the insert waits for the table lock before it writes)
    or a connection that could not be had. A connection lost during the save may have lost
    only the answer to a commit that happened."""
    if isinstance(error, NothingRecorded) or isinstance(recorder, SQLiteApplicationRecorder):
        return True
    from psycopg.errors import LockNotAvailable
    from psycopg_pool import PoolTimeout

    return isinstance(error.__cause__, (LockNotAvailable, PoolTimeout))


def position_of(recorder: ApplicationRecorder, originator_id: UUID, version: int) -> int | None:
    """The ledger position (notification id) at which an aggregate's event was recorded."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {recorder.events_table_name} "
                "WHERE originator_id=? AND originator_version=?",
                (originator_id.hex, version),
            )
            row = c.fetchone()
        return None if row is None else int(row[0])
    if isinstance(recorder, PostgresApplicationRecorder):
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id FROM {schema}.{table} "
            "WHERE originator_id=%s AND originator_version=%s"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, version), prepare=True)
            pg_row = curs.fetchone()
        return None if pg_row is None else int(pg_row["notification_id"])
    raise TypeError(f"unsupported recorder {type(recorder).__name__}")


def separate_reads(recorder: ApplicationRecorder) -> SQLiteDatastore | None:
    """For a SQLite file, a datastore of its own for a command's reads (None otherwise).

    eventsourcing's connection pool hands out connections in the order they were asked for,
    and a writer holds its place in that queue while it waits for the single writer's lock, so
    on the shared pool every read waits behind every commit in progress. In WAL mode a read
    needs no lock at all: reading through a second pool lets commands read while others
    write. (In-memory databases serialise reads and writes on purpose: not for them.)"""
    if not isinstance(recorder, SQLiteApplicationRecorder) or in_memory_sqlite(recorder):
        return None
    pool = recorder.datastore.pool
    return SQLiteDatastore(pool.db_name, lock_timeout=pool.lock_timeout)


def in_memory_sqlite(recorder: ApplicationRecorder) -> bool:
    """Whether the store is an in-memory SQLite database: only its own process can open it."""
    return isinstance(recorder, SQLiteApplicationRecorder) and bool(
        recorder.datastore.pool.is_sqlite_memory_mode)


def events_of(recorder: ApplicationRecorder, aggregate_ids: Sequence[UUID],
              stop: int | None = None, reads: SQLiteDatastore | None = None,
              ) -> list[Notification]:
    """Every recorded event of the given aggregates up to ledger position ``stop``, in ledger
    order. Costs what the aggregates' own events cost, whatever the size of the ledger.
    ``reads`` is a SQLite recorder's :func:`separate_reads`, if it has one."""
    found: list[Notification] = []
    ids = list(dict.fromkeys(aggregate_ids))
    limit = 2**62 if stop is None else stop
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        if isinstance(recorder, SQLiteApplicationRecorder):
            marks = ", ".join("?" for _ in chunk)
            with (reads or recorder.datastore).transaction(commit=False) as c:
                c.execute(
                    f"SELECT rowid, originator_id, originator_version, topic, state "
                    f"FROM {recorder.events_table_name} "
                    f"WHERE originator_id IN ({marks}) AND rowid <= ?",
                    (*[i.hex for i in chunk], limit))
                rows = c.fetchall()
            found.extend(Notification(id=row[0], originator_id=UUID(row[1]),
                                      originator_version=row[2], topic=row[3], state=row[4])
                         for row in rows)
        elif isinstance(recorder, PostgresApplicationRecorder):
            from psycopg.sql import SQL, Identifier

            statement = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {schema}.{table} WHERE originator_id = ANY(%s) "
                "AND notification_id <= %s").format(
                schema=Identifier(recorder.datastore.schema),
                table=Identifier(recorder.events_table_name))
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(statement, (chunk, limit))
                pg_rows = curs.fetchall()
            found.extend(Notification(id=row["notification_id"],
                                      originator_id=row["originator_id"],
                                      originator_version=row["originator_version"],
                                      topic=row["topic"], state=bytes(row["state"]))
                         for row in pg_rows)
        else:
            raise TypeError(f"unsupported recorder {type(recorder).__name__}")
    found.sort(key=lambda n: n.id)
    return found


def stored_events_of(recorder: ApplicationRecorder, aggregate_ids: Sequence[UUID],
                     reads: SQLiteDatastore | None = None) -> dict[UUID, list[StoredEvent]]:
    """The stored events of a few aggregates, each in version order, read in one read
    transaction per 500 aggregates (eventsourcing's ``select_events`` takes one aggregate per
    transaction). Aggregates without events are absent from the answer."""
    found: dict[UUID, list[StoredEvent]] = {}
    for event in events_of(recorder, aggregate_ids, reads=reads):  # ledger order: version order too
        found.setdefault(cast(UUID, event.originator_id), []).append(event)
    return found
