"""A rebuild's next range of events, decoded beside the projector while it applies this one.

A bulk rebuild (:meth:`~projections.runner.Projector.rebuild`) spends about as long decoding
each range's events into scratch tables (:meth:`~projections.view.Bulk.extract_in`) as applying
them to the views. Decoding reads only the event log, so it can run for the next range while
the projector applies this one, and the machine's second core does it:

- on PostgreSQL, on a second connection (a server process of its own), from a thread here;
  the scratch tables are unlogged tables in the ledger's schema, named after this prefetcher
  and the range, dropped once applied;
- on SQLite, in a child process (:mod:`projections.decode_worker`): two connections in one
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
import queue
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
    """Decodes ``ranges``, in order, at most ``depth`` ranges ahead of :meth:`take`."""

    def __init__(self, decoder: Decoder, bulks: Sequence[Bulk],
                 ranges: Sequence[tuple[int, int]], *, depth: int = 1) -> None:
        self.decoder = decoder
        self.bulks = tuple(bulks)
        self.ranges = tuple(ranges)
        self._ready: queue.Queue[Extracted | None] = queue.Queue()
        self._room = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._off = False
        #: How many ranges the projector took decoded.
        self.taken = 0
        self._thread = threading.Thread(target=self._run, name="rebuild-prefetch",
                                        daemon=True)

    def __enter__(self) -> Prefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the applying side -------------------------------------------------------------
    def take(self, start: int, stop: int) -> Extracted | None:
        """The next range, decoded, if it is ``start`` to ``stop``; else None (and no more
        decoding ahead: the projector's ranges no longer follow the plan)."""
        if self._off:
            return None
        extracted = self._ready.get()
        self._room.release()
        if extracted is None:
            self._off = True
            return None
        if (extracted.start, extracted.stop) != (start, stop):
            self.done(extracted)
            self._off = True
            self._stop.set()
            return None
        self.taken += 1
        return extracted

    def done(self, extracted: Extracted) -> None:
        """Remove a range's scratch tables (once applied, or not wanted)."""
        self.decoder.drop(extracted)

    def close(self) -> None:
        self._stop.set()
        self._room.release()  # wake the decoding thread if it waits for room
        self._thread.join()
        while True:
            try:
                extracted = self._ready.get_nowait()
            except queue.Empty:
                break
            if extracted is not None:
                self.done(extracted)
        self.decoder.close()

    # --- the decoding side -------------------------------------------------------------
    def _run(self) -> None:
        try:
            for start, stop in self.ranges:
                self._room.acquire()
                if self._stop.is_set():
                    return
                self._ready.put(self.decoder.extract(self.bulks, start, stop))
        except Exception:  # the projector decodes the rest itself
            log.warning("rebuild: decoding ahead failed; going on without", exc_info=True)
        finally:
            self._ready.put(None)


def prefetcher(recorder: ApplicationRecorder, bulks: Sequence[Bulk],
               ranges: Sequence[tuple[int, int]]) -> Prefetcher | None:
    """A prefetcher for a rebuild of ``ranges`` on ``recorder``'s store; None where nothing
    can run beside the projector (in-memory SQLite) or there is nothing to decode ahead."""
    if not bulks or len(ranges) < 2:
        return None
    decoder: Decoder
    if isinstance(recorder, SQLiteApplicationRecorder):
        pool = recorder.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        try:
            decoder = SQLiteDecoder(pool.db_name, float(pool.lock_timeout or 5))
        except OSError:  # no interpreter to start: the projector decodes every range
            log.warning("rebuild: cannot start the decoding process", exc_info=True)
            return None
    else:
        datastore = recorder.datastore  # type: ignore[attr-defined]
        assert isinstance(datastore, PostgresDatastore)
        decoder = PostgresDecoder(datastore)
    return Prefetcher(decoder, bulks, ranges)
