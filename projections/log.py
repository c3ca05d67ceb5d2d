"""Reading the event log for the projector: a page of changes after a position.

This is the query of the library's ``select_notifications`` (same table, same order, same
topic filter), but it returns :class:`Change` tuples straight from the rows: the database
turns the originator id into the text the views store (the library would make a ``UUID`` of
it, which the views would then turn back into text), and each topic's kind is worked out
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row

from projections.change import Change, kind_of


class EventLog:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.postgres = isinstance(recorder, PostgresApplicationRecorder)
        table = recorder.events_table_name
        #: The events table's name in SQL.
        self.table = f'"{self.datastore.schema}"."{table}"' if self.postgres else table
        if self.postgres:
            self._sql = (f'SELECT notification_id, originator_id::text, originator_version, '
                         f'topic, state FROM "{self.datastore.schema}"."{table}" '
                         f"WHERE notification_id >= %s AND notification_id <= %s "
                         f"AND topic = ANY(%s) ORDER BY notification_id LIMIT %s")
        else:
            # The library stores a UUID as its 32 hex digits; the views use its text form.
            text_id = ("CASE WHEN length(originator_id) = 32 THEN substr(originator_id, 1, 8)"
                       " || '-' || substr(originator_id, 9, 4) || '-' || "
                       "substr(originator_id, 13, 4) || '-' || substr(originator_id, 17, 4)"
                       " || '-' || substr(originator_id, 21) ELSE originator_id END")
            self._sql = (f"SELECT rowid, {text_id}, originator_version, topic, state "
                         f"FROM {table} WHERE rowid >= ? AND rowid <= ? "
                         f"AND topic IN ({{topics}}) ORDER BY rowid LIMIT ?")
        self._kinds: dict[str, str] = {}

    def read(self, start: int, stop: int, topics: Sequence[str], limit: int) -> list[Change]:
        """Up to ``limit`` changes with positions in ``[start, stop]`` and one of ``topics``,
        in order."""
        if self.postgres:
            with self.datastore.get_connection() as conn, \
                    conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(self._sql, (start, stop, list(topics), limit), prepare=True)
                rows: list[Any] = cursor.fetchall()
        else:
            sql = self._sql.replace("{topics}", ",".join("?" * len(topics)))
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(sql, (start, stop, *topics, limit))
                rows = cursor.fetchall()
        kinds = self._kinds
        decode = Change.decode
        changes = []
        for position, originator_id, version, topic, state in rows:
            kind = kinds.get(topic)
            if kind is None:
                kind = kinds[topic] = kind_of(topic)
            try:
                change = decode(position, kind, originator_id, version, bytes(state))
            except Exception as error:  # the views that read it will park it
                change = Change.unreadable(position, kind, originator_id, version, error)
            changes.append(change)
        return changes
