"""Waking the projector as soon as PostgreSQL records an event.

eventsourcing's PostgreSQL recorder sends ``NOTIFY <events table>`` with every insert. A
dedicated connection LISTENs on that channel and wakes the projector; if the connection is
lost (a restart, ``pg_terminate_backend``), it reconnects with back-off, and the projector's
own polling covers the gap, so nothing stalls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

log = logging.getLogger(__name__)


class PostgresWakeup:
    def __init__(self, recorder: PostgresApplicationRecorder, wake: Callable[[], None],
                 stop: threading.Event) -> None:
        configured: Any = recorder.datastore.pool.kwargs
        pool_kwargs: dict[str, Any] = dict(configured() if callable(configured)
                                           else configured or {})
        pool_kwargs.pop("row_factory", None)
        self.connect_kwargs = pool_kwargs
        self.channel = recorder.channel_name
        self.wake = wake
        self.stop = stop
        self.thread = threading.Thread(target=self._run, name="projector-listen", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                with psycopg.connect(**self.connect_kwargs, autocommit=True,
                                     connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    failures = 0
                    self.wake()  # anything recorded while we were not listening
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error as error:
                failures += 1
                log.warning("projector: LISTEN connection lost (%s); reconnecting", error)
                self.stop.wait(min(0.1 * 2 ** failures, 5.0))
