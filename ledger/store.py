"""The few questions about the event store that eventsourcing does not answer itself."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


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
