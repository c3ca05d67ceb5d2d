"""A view's tables and tracking position, kept in the ledger's own database.

The tracking record is eventsourcing's own (``SQLiteTrackingRecorder`` or
``PostgresTrackingRecorder``, one row per view, named ``<application>/<view>``). A batch of
events and the new tracking position commit in one transaction, so each event is applied
exactly once: a batch that fails rolls back whole, and a position that is not newer than the
stored one fails the insert (and so the batch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, NamedTuple

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.change import Change
from projections.tables import Dialect
from projections.view import View

Row = dict[str, Any]


class ViewMoved(IntegrityError):
    """Another projector moved a view on while this one read a batch for it."""

Key = Any  # a one-column key's value, or a tuple of values
_MISSING: Row = {}


class ViewStore:
    def __init__(self, view: type[View], datastore: SQLiteDatastore | PostgresDatastore,
                 application_name: str, prefix: str = "view_") -> None:
        self.view = view
        self.datastore = datastore
        self.table_prefix = prefix
        #: What names a view table in SQL: the schema (PostgreSQL) and the prefix.
        self.prefix = (f'"{datastore.schema}".{prefix}'
                       if isinstance(datastore, PostgresDatastore) else prefix)
        self.tracking_name = f"{application_name}/{prefix}{view.name}"
        self.tracker: SQLiteTrackingRecorder | PostgresTrackingRecorder
        if isinstance(datastore, SQLiteDatastore):
            self.dialect = Dialect.SQLITE
            self.tracker = SQLiteTrackingRecorder(datastore)
        else:
            self.dialect = Dialect.POSTGRES
            self.tracker = PostgresTrackingRecorder(datastore,
                                                    tracking_table_name="view_tracking")
        self._upserts = {t.name: self.dialect.sql(t.upsert(self.prefix)) for t in view.tables}
        self._selects = {t.name: self.dialect.sql(t.select_by_key(self.prefix))
                         for t in view.tables}
        self._keys = {t.name: t.key for t in view.tables}
        self._columns = {t.name: t.column_names for t in view.tables}
        digest = hashlib.sha256(self.tracking_name.encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        #: A row's key (a value for one-column keys, else a tuple), and its parameters.
        self._key_of = {t.name: itemgetter(*t.key) for t in view.tables}
        self._params_of = {t.name: itemgetter(*t.column_names) for t in view.tables}

    # --- schema ---------------------------------------------------------------------
    @property
    def _schema(self) -> str:
        return self.prefix[: len(self.prefix) - len(self.table_prefix)]

    def create_tables(self) -> None:
        self.tracker.create_table()
        with self.transaction() as cursor:
            for table in self.view.tables:
                for statement in table.create(self.table_prefix, self._schema):
                    cursor.execute(statement)

    def drop_tables(self) -> None:
        """Drop the view's tables and forget its position (for a rebuild from scratch)."""
        with self.transaction() as cursor:
            self.reset_in(cursor, recreate=False)

    def reset_in(self, cursor: Any, *, recreate: bool = True) -> None:
        """Within the caller's transaction: drop the view's tables, forget its position and,
        with ``recreate``, make the tables again, empty and without their secondary indexes
        (:meth:`create_indexes_in` adds them once a rebuild has written its rows)."""
        for table in self.view.tables:
            cursor.execute(table.drop(self.prefix))
        tracking_table = ("tracking" if self.dialect is Dialect.SQLITE
                          else self._pg_tracking_table())
        cursor.execute(self.dialect.sql(
            f"DELETE FROM {tracking_table} WHERE application_name = ?"),
            (self.tracking_name,))
        if recreate:
            for table in self.view.tables:
                for statement in table.create(self.table_prefix, self._schema,
                                              indexes=False):
                    cursor.execute(statement)

    def create_indexes_in(self, cursor: Any) -> None:
        for table in self.view.tables:
            for statement in table.create_indexes(self.table_prefix, self._schema):
                cursor.execute(statement)

    def _pg_tracking_table(self) -> str:
        assert isinstance(self.datastore, PostgresDatastore)
        return f'"{self.datastore.schema}".view_tracking'

    # --- position ----------------------------------------------------------------------
    def position(self) -> int:
        return self.tracker.max_tracking_id(self.tracking_name) or 0

    def claim(self, cursor: Any, after: int) -> None:
        """Within a batch's transaction, before applying it: make sure the view is still at
        ``after``, the position the batch was read from, and keep it there until the batch
        commits. Otherwise another projector has applied some of the batch meanwhile, and
        applying it again would count those events twice (the tracking record alone only
        refuses positions that are not newer), so this raises :class:`ViewMoved` and the
        caller reads its position again. On PostgreSQL a transaction-scoped advisory lock per
        view makes projectors take turns (a read committed transaction would otherwise see
        another's commit halfway through); SQLite has one writer at a time, and a transaction
        that read before another's commit cannot write after it."""
        self.lock_in(cursor)
        table = self._pg_tracking_table() if self.dialect is Dialect.POSTGRES else "tracking"
        cursor.execute(self.dialect.sql(
            f"SELECT MAX(notification_id) AS position FROM {table} "
            "WHERE application_name = ?"), (self.tracking_name,))
        row = cursor.fetchone()
        position = (row["position"] if row is not None else None) or 0
        if position != after:
            raise ViewMoved(f"{self.tracking_name} is at {position}, not {after}: "
                            "another projector applied these events")

    def lock_in(self, cursor: Any) -> None:
        """Take turns with other projectors writing this view (see :meth:`claim`)."""
        if self.dialect is Dialect.POSTGRES:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))

    # --- writing -----------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, commit: bool = True, large: bool = False,
                    attach: Attachment | None = None) -> Iterator[Any]:
        if not commit:
            with self.datastore.transaction(commit=False) as cursor:
                yield cursor
            return
        with view_transaction(self.datastore, large=large, attach=attach) as cursor:
            yield cursor

    def apply(self, changes: Sequence[Change], up_to: int) -> None:
        """Apply ``changes`` and record ``up_to`` as the view's position, atomically."""
        with self.transaction() as cursor:
            self.apply_in(cursor, changes, up_to)

    def apply_in(self, cursor: Any, changes: Sequence[Change], up_to: int) -> None:
        """Apply ``changes`` and record ``up_to`` within the caller's transaction. ``up_to``
        may pass the last change: the log was read that far, and gaps are harmless."""
        self.handle_in(cursor, changes)
        self.tracker._insert_tracking(cursor, Tracking(self.tracking_name, up_to))

    def handle_in(self, cursor: Any, changes: Sequence[Change]) -> None:
        """Apply ``changes`` to the view's tables, leaving its position as it is."""
        batch = Batch(self, cursor)
        handlers = self.view.handlers
        for change in changes:
            handler = handlers.get(change.kind)
            if handler is not None:
                handler(batch, change)
        batch.flush()

    # --- reading -----------------------------------------------------------------------
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read-only query; ``{prefix}`` in the statement names this view's tables."""
        sql = self.dialect.sql(statement.replace("{prefix}", self.prefix))
        with self.transaction(commit=False) as cursor:
            cursor.execute(sql, tuple(params))
            return [dict(row) for row in cursor.fetchall()]


#: Memory for a rebuild's transactions (SQLite page cache, PostgreSQL work_mem and
#: maintenance_work_mem), in MB.
LARGE_CACHE_MB = 256


class Attachment(NamedTuple):
    """A SQLite database file to attach to a view transaction's connection, as ``alias``."""

    path: str
    alias: str


@contextmanager
def view_transaction(datastore: SQLiteDatastore | PostgresDatastore, *,
                     large: bool = False, attach: Attachment | None = None) -> Iterator[Any]:
    """A committing transaction for view tables, whose commit does not wait for the disk.

    Views are derived data: their rows commit together with their tracking positions, so a
    view commit lost to a power failure (the database stays consistent) is simply applied
    again from the event log. Waiting for the disk at every view commit would only slow the
    commands down (on SQLite the views and the events share one write-ahead log). The events
    themselves keep the library's durable commits: on SQLite ``synchronous`` is set for this
    transaction only and restored on the pooled connection; on PostgreSQL
    ``synchronous_commit`` is ``SET LOCAL``. A ``large`` transaction (a rebuild's) gets a
    page cache big enough to hold what it writes on SQLite (else pages spill to the log and
    are written again), and more memory for joins, sorts and index builds on PostgreSQL.
    On SQLite, ``attach`` names a scratch database (written without a journal) that the
    transaction sees beside the ledger's; it is detached afterwards.
    """
    if isinstance(datastore, PostgresDatastore):
        with datastore.transaction(commit=True) as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            if large:
                cursor.execute(f"SET LOCAL work_mem = '{LARGE_CACHE_MB}MB'")
                cursor.execute(f"SET LOCAL maintenance_work_mem = '{LARGE_CACHE_MB}MB'")
            yield cursor
        return
    with datastore.get_connection(commit=True) as connection:
        with connection.cursor() as pragma:
            pragma.execute("PRAGMA synchronous")
            durable = pragma.fetchone()[0]
            pragma.execute("PRAGMA synchronous = NORMAL")
            pragma.execute("PRAGMA cache_size")
            cache = pragma.fetchone()[0]
            if large:
                pragma.execute(f"PRAGMA cache_size = -{LARGE_CACHE_MB * 1024}")
            if attach is not None:
                pragma.execute(f"ATTACH DATABASE ? AS {attach.alias}", (attach.path,))
                pragma.execute(f"PRAGMA {attach.alias}.journal_mode = OFF")
                pragma.execute(f"PRAGMA {attach.alias}.synchronous = OFF")
        try:
            with connection.transaction(commit=True) as cursor:
                yield cursor
        finally:
            with connection.cursor() as pragma:
                if attach is not None:
                    pragma.execute(f"DETACH DATABASE {attach.alias}")
                pragma.execute(f"PRAGMA synchronous = {int(durable)}")
                pragma.execute(f"PRAGMA cache_size = {int(cache)}")


class Batch:
    """The rows a batch of events touches, kept in memory and written once at the end.

    Keys are the key column's value for one-column keys, else a tuple of the values."""

    def __init__(self, store: ViewStore, cursor: Any) -> None:
        self.store = store
        self.cursor = cursor
        self.rows: dict[str, dict[Key, Row]] = {t.name: {} for t in store.view.tables}
        self.dirty: dict[str, dict[Key, Row]] = {t.name: {} for t in store.view.tables}

    def get(self, table: str, *key: Any) -> Row | None:
        """The row with this key, as the batch has left it so far (None if none)."""
        rows = self.rows[table]
        k = key[0] if len(key) == 1 else key
        row = rows.get(k)
        if row is None:
            self.cursor.execute(self.store._selects[table], key)
            found = self.cursor.fetchone()
            row = dict(found) if found is not None else _MISSING
            rows[k] = row
        return None if row is _MISSING else row

    def put(self, table: str, row: Row) -> Row:
        """Write (insert or replace) a row; the same dict can be changed again later."""
        key = self.store._key_of[table](row)
        self.rows[table][key] = row
        self.dirty[table][key] = row
        return row

    def flush(self) -> None:
        store = self.store
        for table, dirty in self.dirty.items():
            if not dirty:
                continue
            try:  # rows usually have every column
                params = list(map(store._params_of[table], dirty.values()))
            except KeyError:  # a column left out is NULL
                names = store._columns[table]
                params = [tuple(map(row.get, names)) for row in dirty.values()]
            self.cursor.executemany(store._upserts[table], params)
