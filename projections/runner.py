"""Keeping views current: the projector reads the event log in batches and applies each batch
to every view that has not seen it, in one transaction with the views' tracking positions.

This is eventsourcing's ``ProjectionRunner`` loop with batching: the library's runner applies
one event per transaction (about 1,000 events/s on PostgreSQL), and cannot follow a SQLite
store at all (``SQLiteApplicationRecorder.subscribe()`` raises ``NotImplementedError``). The
projector follows any store: in the same process it wakes as soon as a command is saved
(``DialogueLedger.listeners``); changes from other processes are picked up by polling
(``poll_interval``). Tracking uses the library's tracking recorders.

No single event can stop a view: a batch that fails for another reason than the store (a lost
connection, a lock) is applied again view by view, in halves, down to the events that fail on
their own; those are parked (:mod:`projections.parked`) and the view carries on. The happy
path pays nothing for it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder

from ledger.application import DialogueLedger, created_tables_race
from projections import generations
from projections.change import Change
from projections.log import EventLog
from projections.parked import Parked, ParkedEvents
from projections.prefetch import Extracted, Prefetcher, prefetcher
from projections.store import ViewMoved, ViewStore, view_transaction
from projections.view import Bulk, View, temporary
from projections.views import ALL_VIEWS
from projections.wakeup import PostgresWakeup

log = logging.getLogger(__name__)
Progress = Callable[[int], None]

#: Errors of the store rather than of an event (a lost connection, a lock, a timeout): a
#: batch that fails so is retried whole, later, and no event is parked for them.
STORE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError,
                psycopg.InterfaceError, sqlite3.OperationalError, ConnectionError, TimeoutError)
#: How many more times an event that fails alone is tried before it is parked.
RETRIES_ALONE = 2


#: PostgreSQL's classes of error (SQLSTATE) that are the server's or the connection's, not
#: the statement's: connection exception, transaction rollback (serialization, deadlock),
#: insufficient resources, object not in prerequisite state (a lock not available), operator
#: intervention (a cancelled query, a shutdown), system error, internal error. Others, such
#: as program limit exceeded (an index row too large), fail the same way every time.
PG_STORE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58", "XX"})


def store_error(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) is the store's, not an event's."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__
    for cause in chain:  # PostgreSQL's own word, where there is one
        if isinstance(cause, psycopg.Error):
            if cause.sqlstate is None:
                return isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError))
            return cause.sqlstate[:2] in PG_STORE_CLASSES
    return any(isinstance(cause, STORE_ERRORS) for cause in chain)


def plan(head: int, step: int) -> list[tuple[int, int]]:
    """A rebuild's ranges of positions up to ``head``: ``step`` long, but for the first and the
    last, a quarter as long. Nothing runs beside those two (the first range's decoding, the
    last one's applying), so the shorter they are, the sooner a rebuild is done."""
    small = max(1, step // 4)
    ranges: list[tuple[int, int]] = []
    stop = 0
    while stop < head:
        left = head - stop
        size = small if not ranges or left <= small else min(step, left - small)
        ranges.append((stop + 1, stop + size))
        stop += size
    return ranges


class Projector:
    def __init__(self, app: DialogueLedger, views: Sequence[type[View]] = ALL_VIEWS, *,
                 prefix: str | None = None, batch_size: int = 2_000,
                 poll_interval: float = 0.05, commit_interval: float = 0.02,
                 rebuild_batch_size: int = 25_000, prefetch: bool = True) -> None:
        """``prefix`` names a fixed set of view tables; by default the projector serves the
        live generation and follows it when a blue/green rebuild replaces it.

        ``commit_interval`` is the least time between two of the follower's view commits:
        under a stream of saves it applies them in one transaction per interval (one commit
        per burst, not one per save); after a quiet spell it applies a save at once, and a
        reader waiting for a position (:meth:`wait`) cuts the interval short."""
        self.app = app
        self.views = tuple(views)
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.log = EventLog(app.recorder)
        self.follows_generations = prefix is None
        if prefix is None:
            created_tables_race(lambda: generations.ensure(self.datastore))
            self.generation, prefix = generations.live(self.datastore)
        self.prefix = prefix
        self.stores = self._stores(prefix)
        #: The events this generation's views could not apply.
        self.parked = ParkedEvents(self.datastore, prefix)
        self.batch_size = batch_size
        #: Positions per transaction in a rebuild.
        self.rebuild_batch_size = rebuild_batch_size
        #: Whether a rebuild decodes its next ranges beside the projector (prefetch.py).
        self.prefetch = prefetch
        self._bulk = False
        self._prefetcher: Prefetcher | None = None
        #: How many of the last rebuild's ranges were decoded ahead.
        self.decoded_ahead = 0
        self._range_ends: dict[int, int] = {}  #: a rebuild's ranges: last position -> stop
        self.poll_interval = poll_interval
        self.commit_interval = commit_interval
        self._positions = {store.view.name: store.position() for store in self.stores}
        self._topics: list[str] = []
        self._bulk_topics: list[str] = []
        self._bulks: dict[str, Bulk] = {}
        self._set_stores(self.stores)
        self._progressed = threading.Condition()
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applying = True
        self._lock = threading.Lock()
        self.last_error: BaseException | None = None
        #: Called with the view tables' prefix (their generation) and every view's position
        #: each time the views advance here (the API's command process tells the API
        #: process so, see :meth:`observe`).
        self.progress_listeners: list[Callable[[str, dict[str, int]], None]] = []
        #: For a projector that only watches: how to hurry the one that applies (in the
        #: API's command process) when a reader waits here for a position.
        self.hurry_elsewhere: Callable[[], None] | None = None
        self._observed = 0  #: how many times :meth:`observe` was told positions

    def _set_stores(self, stores: list[ViewStore]) -> None:
        self.stores = stores
        self._topics = sorted({t for store in stores for t in store.view.topics()})
        self._bulk_topics = sorted({t for s in stores for t in s.view.topics(bulk=True)})
        self._bulks = {}
        for store in stores:
            bulk = store.view.bulk(store.dialect, self.log.table, store.prefix)
            if bulk is not None:
                self._bulks[store.view.name] = bulk

    def _stores(self, prefix: str) -> list[ViewStore]:
        stores = [ViewStore(view, self.datastore, self.app.name, prefix) for view in self.views]
        for store in stores:
            created_tables_race(store.create_tables)
        created_tables_race(ParkedEvents(self.datastore, prefix).create)
        return stores

    # --- positions ---------------------------------------------------------------------
    @property
    def position(self) -> int:
        """The position every view has reached."""
        return min(self._positions.values()) if self._positions else 0

    def store(self, name: str) -> ViewStore:
        for store in self.stores:
            if store.view.name == name:
                return store
        raise KeyError(name)

    # --- catching up -------------------------------------------------------------------
    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Apply every event up to ``until`` (the ledger's head by default)."""
        with self._lock:
            head = self.app.position if until is None else until
            while True:
                start = self.position
                if start >= head:
                    return head
                extracted = None
                if self._bulk:  # a range of positions, of which SQL applies the bulk kinds
                    up_to = min(head, self._range_ends.get(start, start + self.batch_size))
                    changes = self.log.read(start + 1, up_to, self._bulk_topics, up_to - start)
                    if self._prefetcher is not None:
                        extracted = self._prefetcher.take(start + 1, up_to)
                else:
                    changes = self.log.read(start + 1, head, self._topics, self.batch_size)
                    up_to = head if len(changes) < self.batch_size else changes[-1].position
                try:
                    try:
                        self._apply(changes, up_to, extracted)
                    except ViewMoved:
                        raise
                    except Exception as error:
                        if store_error(error) and not self._bulk:
                            raise  # retried whole (a rebuild's SQL may fail on an event)
                        log.info("projector: positions %d to %d failed (%s: %s); applying "
                                 "them view by view", start + 1, up_to,
                                 type(error).__name__, error)
                        self._apply_carefully(up_to)
                except ViewMoved:  # another projector got there first: start from there
                    self.refresh()
                    continue
                finally:
                    if extracted is not None and self._prefetcher is not None:
                        self._prefetcher.done(extracted)
                if progress is not None:
                    progress(up_to - start)

    def _apply(self, changes: list[Change], up_to: int,
               extracted: Extracted | None = None) -> None:
        """Apply a batch; in a rebuild, ``extracted`` is the range decoded ahead, if any."""
        behind = [s for s in self.stores if self._positions[s.view.name] < up_to]
        attach = extracted.attach if extracted is not None else None
        with behind[0].transaction(large=self._bulk, attach=attach) as cursor:
            for store in behind:
                after = self._positions[store.view.name]
                store.claim(cursor, after)
                bulk = self._bulks.get(store.view.name) if self._bulk else None
                if bulk is not None:
                    if extracted is not None and (extracted.start, extracted.stop) == (
                            after + 1, up_to):
                        bulk.apply_in(cursor, after + 1, extracted.scratch)
                    else:  # decode the range here
                        scratch = temporary(store.dialect)
                        bulk.extract_in(cursor, after + 1, up_to, scratch)
                        bulk.apply_in(cursor, after + 1, scratch)
                store.apply_in(cursor, [c for c in changes if c.position > after], up_to)
        self._advanced(behind, up_to)

    def _advanced(self, stores: Sequence[ViewStore], up_to: int) -> None:
        """``stores`` have committed their views up to ``up_to``."""
        with self._progressed:
            for store in stores:
                self._positions[store.view.name] = up_to
            self._progressed.notify_all()
            positions = dict(self._positions)
        for listener in self.progress_listeners:
            listener(self.prefix, positions)

    # --- events a view cannot apply ----------------------------------------------------
    def _apply_carefully(self, up_to: int) -> None:
        """A batch up to ``up_to`` failed: apply it again view by view, with the handlers (not
        a rebuild's SQL), in halves down to the events that fail on their own, and park
        those. An error of the store is raised (the batch is retried later, whole)."""
        for store in self.stores:
            after = self._positions[store.view.name]
            if after < up_to:
                changes = self.log.read(after + 1, up_to, store.view.topics(), up_to - after)
                self._bisect(store, after, changes, up_to)

    def _bisect(self, store: ViewStore, after: int, changes: list[Change],
                up_to: int) -> None:
        """Apply ``changes`` (those after ``after``, up to ``up_to``) to one view."""
        failure = self._event_failure(store, after, changes, up_to)
        if failure is None:
            return
        if len(changes) > 1:
            half = len(changes) // 2
            middle = changes[half - 1].position
            self._bisect(store, after, changes[:half], middle)
            self._bisect(store, middle, changes[half:], up_to)
            return
        for attempt in range(RETRIES_ALONE):  # alone, it may yet succeed
            delay = 0.05 * 2 ** attempt
            if self._thread is None:
                time.sleep(delay)
            elif self._stop.wait(delay):
                raise failure  # the follower is stopping: parked by the next one, if need be
            retried = self._event_failure(store, after, changes, up_to)
            if retried is None:
                return
            failure = retried
        self._park(store, after, changes[0], up_to, failure)

    def _event_failure(self, store: ViewStore, after: int, changes: list[Change],
                       up_to: int) -> Exception | None:
        """Apply ``changes`` to one view: None when applied, or the error of an event the
        view cannot apply. The store's own errors (and a moved view) are raised."""
        try:
            self._apply_to(store, after, changes, up_to)
            return None
        except ViewMoved:
            raise
        except Exception as error:
            if store_error(error) or not changes:
                raise
            return error

    def _apply_to(self, store: ViewStore, after: int, changes: Sequence[Change],
                  up_to: int) -> None:
        with store.transaction() as cursor:
            store.claim(cursor, after)
            store.apply_in(cursor, changes, up_to)
        self._advanced([store], up_to)

    def _park(self, store: ViewStore, after: int, change: Change, up_to: int,
              error: Exception) -> None:
        """Record that ``store``'s view cannot apply ``change``, and move it past it."""
        with store.transaction() as cursor:
            store.claim(cursor, after)
            self.parked.park_in(cursor, store.view.name, change, error)
            store.apply_in(cursor, (), up_to)
        log.error("projector: the %s view cannot apply the event at position %d (%s of %s): "
                  "%s: %s. The event is PARKED and the view goes on without it; /readyz "
                  "answers 503 until it is applied (fix the code, then `dialogue-ledger "
                  "parked retry` or `dialogue-ledger rebuild`)", store.view.name,
                  change.position, change.kind, change.id, type(error).__name__, error)
        self._advanced([store], up_to)

    def parked_events(self, limit: int | None = None) -> list[Parked]:
        """The events the live views could not apply, in the ledger's order."""
        return self.parked.list(limit)

    def retry_parked(self) -> tuple[list[Parked], list[Parked]]:
        """Apply the parked events again, in the ledger's order, each in a transaction of
        its own; those that now succeed are no longer parked. Returns the events applied and
        those still failing (with the error they fail with now)."""
        applied: list[Parked] = []
        failing: list[Parked] = []
        with self._lock:
            for parked in self.parked.list():
                try:
                    store = self.store(parked.view)
                    changes = self.log.read(parked.position, parked.position,
                                            store.view.topics(), 1)
                    with store.transaction() as cursor:
                        store.lock_in(cursor)  # one at a time: a retry elsewhere, a follower
                        if not self.parked.remove_in(cursor, parked.view, parked.position):
                            continue  # applied meanwhile by another retry
                        store.handle_in(cursor, changes)
                    applied.append(parked)
                except Exception as error:
                    if store_error(error):
                        raise
                    self.parked.still_failing(parked.view, parked.position, error)
                    failing.append(parked)
        return applied, failing

    def observe(self, prefix: str, positions: Mapping[str, int]) -> None:
        """Positions another process's projector has reached (as its
        ``progress_listeners`` tell them), for a process that only watches: read-your-writes
        waits end as soon as the views get there, without waiting for the next poll.
        Positions of other view tables (another generation) than these are ignored."""
        if prefix != self.prefix:
            return
        with self._progressed:
            self._observed += 1
            for name, position in positions.items():
                if name in self._positions and position > self._positions[name]:
                    self._positions[name] = position
            self._progressed.notify_all()

    def rebuild(self, names: Sequence[str] | None = None,
                progress: Progress | None = None) -> int:
        """Drop the named views (all by default) and rebuild them from the first event, in
        larger batches than when following (fewer, bigger transactions). Each range's bulk
        kinds are decoded ahead, beside the projector, while it applies the range before
        (:mod:`projections.prefetch`). The tables' secondary indexes are made once the rows
        are written."""
        with self._lock:
            head = self.app.position
            chosen = [s for s in self.stores if names is None or s.view.name in names]
            with view_transaction(self.datastore) as cursor:
                for store in chosen:
                    store.reset_in(cursor)
                    self.parked.clear_in(cursor, store.view.name)
            for store in chosen:
                self._positions[store.view.name] = 0
        following = self.batch_size
        self.batch_size = step = self.rebuild_batch_size
        self._bulk = True
        bulks = [self._bulks[s.view.name] for s in chosen if s.view.name in self._bulks]
        ranges = plan(head, step)
        self._range_ends = {start - 1: stop for start, stop in ranges}
        self._prefetcher = prefetcher(self.app.recorder, bulks, ranges) \
            if self.prefetch else None
        try:
            with self._prefetcher or nullcontext():
                position = self.catch_up(head, progress=progress)
            self.decoded_ahead = self._prefetcher.taken if self._prefetcher else 0
        finally:
            self.batch_size = following
            self._bulk = False
            self._prefetcher = None
            self._range_ends = {}
            with self._lock, view_transaction(self.datastore, large=True) as cursor:
                for store in chosen:
                    store.create_indexes_in(cursor)
        return position

    # --- blue/green rebuilds ------------------------------------------------------------
    def follow_generation(self) -> bool:
        """Switch to the live generation of view tables if another has been made live."""
        if not self.follows_generations:
            return False
        generation, prefix = generations.live(self.datastore)
        if prefix == self.prefix:
            return False
        stores = self._stores(prefix)
        with self._lock, self._progressed:
            self.generation, self.prefix = generation, prefix
            self.parked = ParkedEvents(self.datastore, prefix)
            self._set_stores(stores)
            self._positions = {store.view.name: store.position() for store in stores}
            self._progressed.notify_all()
        return True

    def rebuild_blue_green(self, progress: Progress | None = None) -> int:
        """Rebuild every view into a new generation of tables while this generation keeps
        serving; make it live once it has caught up; drop the generation before this one."""
        if not self.follows_generations:
            raise ValueError("a projector with a fixed prefix has no generations")
        self.follow_generation()
        old = self.generation
        new = Projector(self.app, self.views, prefix=generations.prefix_of(old + 1))
        position = new.rebuild(progress=progress)  # also clears an interrupted attempt
        while True:  # commands keep arriving: close the gap, then switch
            head = self.app.position
            if position >= head:
                break
            position = new.catch_up(progress=progress)
        generations.make_live(self.datastore, old + 1)
        self.follow_generation()
        if old >= 1:
            before = Projector(self.app, self.views, prefix=generations.prefix_of(old - 1))
            for store in before.stores:
                store.drop_tables()
            before.parked.drop()
        return position

    # --- following live ----------------------------------------------------------------
    def start(self, *, apply: bool = True) -> Projector:
        """Follow the ledger in a background thread until :meth:`stop`. With ``apply``
        false, only watch: track the positions (and generation) that other processes'
        projectors reach, for read-your-writes in a process that does not project."""
        if self._thread is None:
            self.applying = apply
            self._stop.clear()
            if apply:  # a save here is for this projector to apply at once
                self.app.listeners.append(self._on_recorded)
            self._thread = threading.Thread(target=self._follow, name="projector",
                                            daemon=True)
            self._thread.start()
            if apply and (parked := self.parked_count()):
                log.error("projector: %d events are parked (views that could not apply them;"
                          " /readyz answers 503): fix the code, then `dialogue-ledger parked "
                          "retry` or `dialogue-ledger rebuild`", parked)
            recorder = self.app.recorder
            if apply and isinstance(recorder, PostgresApplicationRecorder):
                PostgresWakeup(recorder, self._wake.set, self._stop).start()
        return self

    def parked_count(self) -> int:
        """How many events the live views could not apply (0 if the store cannot say)."""
        try:
            return self.parked.count()
        except Exception:  # the store cannot say yet: the follower will find out
            log.debug("projector: parked events not counted", exc_info=True)
            return 0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._hurry.set()
        with self._progressed:
            self._progressed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._on_recorded in self.app.listeners:
            self.app.listeners.remove(self._on_recorded)

    def __enter__(self) -> Projector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_recorded(self, position: int) -> None:
        self._wake.set()

    def _follow(self) -> None:
        failures = 0
        last_round = 0.0
        while not self._stop.is_set():
            # Coalesce: a save that arrives within commit_interval of the last round waits
            # for the rest of the interval, so a burst of saves shares one view commit;
            # a reader waiting for a position (``wait``) cuts that short.
            self._hurry.wait(last_round + self.commit_interval - time.monotonic())
            self._hurry.clear()
            last_round = time.monotonic()
            self._wake.clear()
            try:
                self.follow_generation()
                if self.applying:
                    self.catch_up()
                else:
                    self.refresh()
                failures = 0
                self.last_error = None
            except Exception as error:  # a lost connection, a locked database: retry
                failures += 1
                self.last_error = error
                log.warning("projector: catching up failed (%s); retrying", error)
                self._stop.wait(min(0.05 * 2 ** failures, 5.0))
                try:  # another projector may have applied the batch that failed here
                    self.refresh()
                except Exception:  # still unreachable: the next round retries
                    log.debug("projector: positions not refreshed", exc_info=True)
                continue
            self._wake.wait(self.poll_interval)

    def refresh(self) -> None:
        """Read the views' positions from their tracking records."""
        observed = self._observed
        positions = {store.view.name: store.position() for store in self.stores}
        with self._progressed:
            if self._observed != observed:  # positions observed meanwhile are newer
                positions = {name: max(position, self._positions.get(name, 0))
                             for name, position in positions.items()}
            self._positions = positions
            self._progressed.notify_all()

    # --- read-your-writes --------------------------------------------------------------
    def hurry(self) -> None:
        """Apply what has been recorded now, without waiting for the commit interval."""
        self._hurry.set()

    def wait(self, position: int, timeout: float = 5.0) -> bool:
        """Block until every view has reached ``position``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._progressed:
            while self.position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self._thread is None:  # nobody follows: catch up here
                    self._progressed.release()
                    try:
                        self.catch_up()
                    finally:
                        self._progressed.acquire()
                    continue
                self.hurry()
                if not self.applying:  # look at the positions now, not at the next poll
                    self._wake.set()
                    if self.hurry_elsewhere is not None:
                        self.hurry_elsewhere()
                self._progressed.wait(remaining)
        return True
