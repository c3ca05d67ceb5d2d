"""Group commit: saves made at once on SQLite share one transaction, and one wait for the disk.

SQLite has a single writer, and every commit waits for the disk to confirm the write
(eventsourcing opens SQLite with ``synchronous=FULL``). Inserting a command's events takes
microseconds; the commit takes most of a millisecond. So while one save commits, the saves that
arrive meanwhile queue up, and the next of them to write inserts all the queued ones, each under
a savepoint of its own, and commits once. A save whose events conflict (another command
changed one of its aggregates first) is rolled back to its savepoint alone and fails as it
would have alone, with eventsourcing's ``IntegrityError`` (the command then decides again);
the others are committed. Each save gets its own notification ids (ledger positions) back.
If the commit itself fails, every save in it fails with that error, and none is recorded.

A save with nothing else queued is written exactly as eventsourcing writes it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder


class _Save:
    __slots__ = ("done", "error", "events", "ids", "kwargs")

    def __init__(self, events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> None:
        self.events = events
        self.kwargs = kwargs
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """``insert_events`` for a SQLite application recorder, committing saves in groups."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.recorder = recorder
        self._queue: list[_Save] = []
        self._queued = threading.Lock()
        self._writing = threading.Lock()
        #: How many commits wrote more than one save (for tests and benchmarks).
        self.grouped = 0

    def install(self) -> None:
        self.recorder.insert_events = self.insert_events  # type: ignore[method-assign]

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        save = _Save(stored_events, kwargs)
        with self._queued:
            self._queue.append(save)
        with self._writing:
            if not save.done:  # nobody wrote it meanwhile: write it, and all queued since
                with self._queued:
                    group, self._queue = self._queue, []
                self._write(group)
        if save.error is not None:
            raise save.error
        return save.ids

    def _write(self, group: list[_Save]) -> None:
        try:
            with self.recorder.datastore.transaction(commit=True) as cursor:
                if len(group) == 1:
                    group[0].ids = self.recorder._insert_events(cursor, group[0].events,
                                                                **group[0].kwargs)
                else:
                    self.grouped += 1
                    for save in group:
                        self._insert_one(cursor, save)
        except BaseException as error:  # not committed: none of them is recorded
            for save in group:
                save.ids = None
                save.error = save.error or error
        finally:
            for save in group:
                save.done = True

    def _insert_one(self, cursor: Any, save: _Save) -> None:
        cursor.execute("SAVEPOINT save")
        try:
            save.ids = self.recorder._insert_events(cursor, save.events, **save.kwargs)
        except sqlite3.IntegrityError as conflict:
            cursor.execute("ROLLBACK TO save")
            save.error = IntegrityError(conflict)
        cursor.execute("RELEASE save")
