"""A rebuild's next range of events, decoded beside the projector while it applies this one.

A bulk rebuild (:meth:`~projections.runner.Projector.rebuild`) spends about as long decoding
each range's events into scratch tables (:meth:`~projections.view.Bulk.extract_in`) as applying
them to the views. Decoding reads only the event log, so :data:`DECODERS` decoders can run
for the next ranges while the projector applies this one, on the machine's other core:

- on PostgreSQL, on connections of their own (server processes of their own), from threads
  here; the scratch tables are unlogged tables in the ledger's schema, named after the
  decoder and the range, dropped once applied;
- on SQLite, in child processes (:mod:`projections.decode_worker`): two connections in one
  process take turns on SQLite's global mutexes. Each range gets a scratch database file of
  its own in a temporary folder, written without a journal (scratch data: a crash loses it
  together with the unfinished rebuild), attached to the applying connection and deleted once
  applied.

An in-memory SQLite database cannot be opened from another process: no prefetcher there
(:func:`prefetcher`). Whenever a range is not the one decoded ahead (or decoding ahead failed),
the projector decodes it itself, in its own transaction.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections import decode_worker
from projections.store import Attachment, view_transaction
from projections.view import Bulk, Scratch

log = logging.getLogger(__name__)

#: Ranges decoded at once. Decoding a range takes a little longer than applying one, so
#: two decoders keep the projector busy (on two cores, the three share the machine).
DECODERS = 2


@dataclass(frozen=True)
class Extracted:
    """A range of positions (``start`` to ``stop`` inclusive) decoded into ``scratch``."""

    start: int
    stop: int
    scratch: Scratch
    #: On SQLite, the scratch database to attach to the applying connection.
    attach: Attachment | None = None


class Decoder(Protocol):
    def extract(self, bulks: Sequence[Bulk], start: int, stop: int) -> Extracted: ...

    def drop(self, extracted: Extracted) -> None: ...

    def close(self) -> None: ...


class PostgresDecoder:
    """Decodes into unlogged tables, on a connection of the datastore's pool. Applied ranges'
    tables are dropped by the next range's transaction (or at the end), not by the
    projector's thread, which has enough to do."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self.tag = uuid.uuid4().hex[:8]
        self._applied: list[Extracted] = []
        self._tables: set[str] = set()  #: the scratch tables' names, untagged
        self._lock = threading.Lock()

    def extract(self, bulks: Sequence[Bulk], start: int, stop: int) -> Extracted:
        extracted = Extracted(start, stop, Scratch(
            qualifier=f'"{self.datastore.schema}".', create="CREATE UNLOGGED TABLE",
            tag=f"_{self.tag}_{start}"))
        self._tables.update(name for bulk in bulks for name in bulk.scratch_tables)
        with self._dropping() as cursor:
            for bulk in bulks:
                bulk.extract_in(cursor, start, stop, extracted.scratch)
        return extracted

    def drop(self, extracted: Extracted) -> None:
        with self._lock:
            self._applied.append(extracted)

    @contextmanager
    def _dropping(self) -> Iterator[Any]:
        """A transaction that first drops the applied ranges' tables (kept to drop later if
        it rolls back)."""
        with self._lock:
            applied, self._applied = self._applied, []
        try:
            with view_transaction(self.datastore, large=True) as cursor:
                tables = [extracted.scratch.table(name) for extracted in applied
                          for name in sorted(self._tables)]
                if tables:
                    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")
                yield cursor
        except BaseException:
            with self._lock:
                self._applied[:0] = applied
            raise

    def close(self) -> None:
        if self._applied:
            with self._dropping():
                pass


class _Statements:
    """Stands in for a cursor: keeps what :meth:`Bulk.extract_in` executes."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.executed.append((sql, list(params)))


class SQLiteDecoder:
    """Decodes into a database file per range, in a child process."""

    def __init__(self, database: str, timeout: float) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-I", decode_worker.__file__], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE)
        self.folder = Path(tempfile.mkdtemp(prefix="dialogue-ledger-rebuild-"))
        self._send({"database": database, "timeout": timeout})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.worker.stdin is not None
        self.worker.stdin.write(orjson.dumps(message) + b"\n")
        self.worker.stdin.flush()

    def extract(self, bulks: Sequence[Bulk], start: int, stop: int) -> Extracted:
        scratch = Scratch(qualifier=f"{decode_worker.ALIAS}.", create="CREATE TABLE")
        extracted = Extracted(start, stop, scratch,
                              Attachment(str(self.folder / f"{start}.db"), decode_worker.ALIAS))
        statements = _Statements()
        for bulk in bulks:
            bulk.extract_in(statements, start, stop, scratch)
        assert self.worker.stdout is not None and extracted.attach is not None
        self._send({"path": extracted.attach.path, "statements": statements.executed})
        line = self.worker.stdout.readline()
        answer = orjson.loads(line) if line else {"ok": False, "error": "the worker ended"}
        if not answer["ok"]:
            self.drop(extracted)
            raise RuntimeError(f"decoding positions {start} to {stop}: {answer['error']}")
        return extracted

    def drop(self, extracted: Extracted) -> None:
        if extracted.attach is not None:
            Path(extracted.attach.path).unlink(missing_ok=True)

    def close(self) -> None:
        if self.worker.stdin is not None:
            self.worker.stdin.close()
        try:
            self.worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait()
        if self.worker.stdout is not None:
            self.worker.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Prefetcher:
    """Decodes ``ranges`` ahead of :meth:`take`, which hands them out in order: each decoder
    decodes one range at a time, and at most ``depth`` ranges are decoded or being decoded
    beyond the one the projector applies."""

    def __init__(self, decoders: Sequence[Decoder], bulks: Sequence[Bulk],
                 ranges: Sequence[tuple[int, int]], *, depth: int | None = None) -> None:
        self.decoders = tuple(decoders)
        self.bulks = tuple(bulks)
        self.ranges = tuple(ranges)
        self.depth = depth or len(self.decoders)
        #: Decoded ranges (or None: failed) by index, until taken.
        self._done: dict[int, Extracted | None] = {}
        self._next = 0  # the next range to decode
        self._wanted = 0  # the next range to take
        self._changed = threading.Condition()
        self._stop = False
        #: How many ranges the projector took decoded.
        self.taken = 0
        self._threads = [threading.Thread(target=self._run, args=(decoder,), daemon=True,
                                          name=f"rebuild-decoder-{i}")
                         for i, decoder in enumerate(self.decoders)]

    def __enter__(self) -> Prefetcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the applying side -------------------------------------------------------------
    def take(self, start: int, stop: int) -> Extracted | None:
        """The next range, decoded, if it is ``start`` to ``stop``; else None (and no more
        decoding ahead: a decoder failed, or the projector's ranges no longer follow the
        plan)."""
        if self._stop or self._wanted >= len(self.ranges):
            return None
        with self._changed:
            index = self._wanted
            while index not in self._done:
                self._changed.wait()
            extracted = self._done.pop(index)
            self._wanted += 1
            self._changed.notify_all()
        if extracted is None or (extracted.start, extracted.stop) != (start, stop):
            if extracted is not None:
                self.done(extracted)
            self._give_up()
            return None
        self.taken += 1
        return extracted

    def done(self, extracted: Extracted) -> None:
        """Remove a range's scratch tables (once applied, or not wanted)."""
        self.decoders[0].drop(extracted)

    def _give_up(self) -> None:
        with self._changed:
            self._stop = True
            self._changed.notify_all()

    def close(self) -> None:
        self._give_up()
        for thread in self._threads:
            thread.join()
        for extracted in self._done.values():
            if extracted is not None:
                self.done(extracted)
        self._done.clear()
        for decoder in dict.fromkeys(self.decoders):  # each once
            decoder.close()

    # --- the decoding side -------------------------------------------------------------
    def _run(self, decoder: Decoder) -> None:
        while True:
            with self._changed:
                while not self._stop and self._next > self._wanted + self.depth - 1:
                    self._changed.wait()
                if self._stop or self._next >= len(self.ranges):
                    return
                index = self._next
                self._next += 1
            start, stop = self.ranges[index]
            try:
                extracted: Extracted | None = decoder.extract(self.bulks, start, stop)
            except Exception:  # the projector decodes this range and the rest itself
                log.warning("rebuild: decoding ahead failed; going on without", exc_info=True)
                extracted = None
            with self._changed:
                self._done[index] = extracted
                self._changed.notify_all()
            if extracted is None:
                return


def prefetcher(recorder: ApplicationRecorder, bulks: Sequence[Bulk],
               ranges: Sequence[tuple[int, int]]) -> Prefetcher | None:
    """A prefetcher for a rebuild of ``ranges`` on ``recorder``'s store; None where nothing
    can run beside the projector (in-memory SQLite) or there is nothing to decode ahead."""
    if not bulks or len(ranges) < 2:
        return None
    count = min(DECODERS, len(ranges) - 1)
    decoders: list[Decoder] = []
    if isinstance(recorder, SQLiteApplicationRecorder):
        pool = recorder.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        try:
            for _ in range(count):
                decoders.append(SQLiteDecoder(pool.db_name, float(pool.lock_timeout or 5)))
        except OSError:  # no interpreter to start: the projector decodes every range
            log.warning("rebuild: cannot start the decoding processes", exc_info=True)
            for decoder in decoders:
                decoder.close()
            return None
    else:
        datastore = recorder.datastore  # type: ignore[attr-defined]
        assert isinstance(datastore, PostgresDatastore)
        decoders = [PostgresDecoder(datastore)] * count  # one connection per decoding
    return Prefetcher(decoders, bulks, ranges)
