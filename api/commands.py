"""Where the API runs its commands: in a command process of its own, or in this process.

Recording a command is the costliest thing the API does: the command loads and replays the
aggregates it decides on and saves, and then the projector applies the new events to the
views. An API process runs Python one thread at a time, so all of that would share one core
with the HTTP handling. :class:`ProcessCommands` runs the commands, and the projector that
follows them, in a child process (``api/command_process.py``) on another core: the API
process sends each command down a pipe and gets its answer back. Reads stay in the API
process, on its own connections, as before.

A command is a ``DialogueLedger`` method (or a function whose first parameter is the ledger)
registered in ``api.command_process.COMMANDS``, and its arguments:
``svc.commands.call(DialogueLedger.reply, post_id, ...)`` from a worker thread,
``await svc.commands.run(...)`` on the event loop. What crosses the pipe is the command's
registered NAME and plain values, never a function; the command process runs only the
commands it knows. Whatever it returns
or raises (a named ``LedgerError`` with its details, a store error) comes back as if it had
run here, and once it has recorded, this process's ledger listeners are called with the new
position, as after a save here (they clear the API's caches). The command process tells
this process's projector (which then only watches) the positions its views reach, so a
read-your-writes wait ends as soon as they get there.

If the command process stops, the commands it was running fail with 503 (they may have been
recorded: a retry with the same ``Idempotency-Key`` is safe) and a new one is started. Every
command has a deadline (:data:`COMMAND_DEADLINE` seconds, ``DIALOGUE_LEDGER_COMMAND_DEADLINE``):
past it, or if its answer cannot cross the pipe, the caller gets 503 ``command-timeout`` or
``command-answer-lost`` with ``Retry-After``, saying that the command may have been recorded.

:class:`InlineCommands` runs the commands in this process instead: for an in-memory SQLite
store (another process cannot open it), and where ``create_app(commands="inline")`` asks.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from itertools import count
from multiprocessing.connection import Connection
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from api import command_process
from api.problems import Problem
from ledger.application import DialogueLedger
from ledger.config import store_env
from ledger.store import in_memory_sqlite
from projections.runner import Projector

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Mode = Literal["process", "inline"]

#: Commands run at once (by the command process, or by an API process running them inline).
COMMAND_THREADS = 4
#: Seconds an API process waits for a command's answer from its command process (unless
#: ``DIALOGUE_LEDGER_COMMAND_DEADLINE`` says otherwise).
COMMAND_DEADLINE = 30.0
#: Seconds a stopping API process waits for its command process to finish the commands under
#: way and stop, before it terminates it (then kills it one second later).
STOP_GRACE = 4.0
#: What a 503 says when a command's fate is unknown.
MAY_HAVE_BEEN_RECORDED = ("the command may have been recorded: retry with the same "
                          "Idempotency-Key, which answers the first run's receipt if it was")

# The command process is forked from a server process that has imported the domain once
# (``forkserver``): starting one takes milliseconds, and nothing of the API process's threads
# or connections is inherited. Where there is no fork server (Windows), it is spawned.
if "forkserver" in multiprocessing.get_all_start_methods():
    _CONTEXT: Any = multiprocessing.get_context("forkserver")
    _CONTEXT.set_forkserver_preload(["api.command_process"])
else:  # pragma: no cover - not on Linux
    _CONTEXT = multiprocessing.get_context("spawn")


class Commands(Protocol):
    """Runs ledger commands for the API."""

    def call(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
             *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a command and wait for its answer (from a worker thread)."""
        ...

    async def run(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a command without blocking the event loop."""
        ...

    @property
    def available(self) -> bool:
        """Whether a command sent now can be run (False while a command process restarts)."""
        ...

    def close(self) -> None:
        """Finish the commands under way and stop."""
        ...


def start_commands(env: Mapping[str, str] | None, ledger: DialogueLedger,
                   projector: Projector, *, follow: bool, mode: Mode) -> Commands:
    """The API's commands, and its views followed (``follow``) where they are recorded:
    in a command process, unless ``mode`` is ``"inline"`` or the store is an in-memory
    SQLite database; ``projector`` is started (to apply, or only to watch)."""
    if mode == "inline" or in_memory_sqlite(ledger.recorder):
        if follow:
            projector.catch_up()
        projector.start(apply=follow)
        return InlineCommands(ledger)
    commands = ProcessCommands(store_env(env), ledger, project=follow,
                               on_views=projector.observe)
    projector.refresh()  # where the command process brought the views
    if follow:
        projector.hurry_elsewhere = commands.hurry
    projector.start(apply=False)
    return commands


class InlineCommands:
    """Commands run in this process: by the calling thread (``call``), or, from the event
    loop (``run``), by a few worker threads of their own, so that one decides while another
    waits for its commit, without many threads contending for the GIL and the store."""

    def __init__(self, ledger: DialogueLedger, threads: int = COMMAND_THREADS) -> None:
        self.ledger = ledger
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="command")

    def call(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
             *args: P.args, **kwargs: P.kwargs) -> T:
        return command(self.ledger, *args, **kwargs)

    async def run(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        context = contextvars.copy_context()
        work = functools.partial(command, self.ledger, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.pool, context.run, work)

    @property
    def available(self) -> bool:
        return True

    def close(self) -> None:
        self.pool.shutdown(wait=True)


#: When (``time.monotonic()``) a stopping server received its stop signals (set by
#: ``api.cli``'s server, from a signal handler: appending takes no lock). A command process
#: still starting (bringing the views up to date can take minutes) is then given up, no new
#: one is started, and a command still unanswered :data:`STOPPING_WAIT` seconds after the
#: first signal is answered 503 before the server closes its connection.
STOP_REQUESTED: list[float] = []
#: Seconds a command may still take once the server is asked to stop (less than the
#: server's wait for open connections, ``api.cli.CONNECTIONS_GRACE``).
STOPPING_WAIT = 1.5
#: Seconds between two looks at a command's deadline while waiting for its answer.
WAIT_STEP = 0.25


class StoppedWhileStarting(Exception):
    """The server was asked to stop before its command process was ready."""


def unavailable(detail: str, code: str = "commands-unavailable") -> Problem:
    return Problem(503, code, detail, headers={"Retry-After": "1"})


def command_deadline() -> float:
    """:data:`COMMAND_DEADLINE`, or ``DIALOGUE_LEDGER_COMMAND_DEADLINE`` seconds if set."""
    configured = os.environ.get("DIALOGUE_LEDGER_COMMAND_DEADLINE", "")
    try:
        deadline = float(configured) if configured else COMMAND_DEADLINE
    except ValueError:
        raise ValueError("DIALOGUE_LEDGER_COMMAND_DEADLINE must be a number of seconds, "
                         f"not {configured!r}") from None
    if not deadline > 0:
        raise ValueError("DIALOGUE_LEDGER_COMMAND_DEADLINE must be more than 0 seconds")
    return deadline


class ProcessCommands:
    """Commands run by a command process (``api/command_process.py``), restarted if it
    stops. ``project``: the command process also keeps the views current, and tells
    ``on_views`` the view tables' prefix and positions as they advance."""

    def __init__(self, settings: Mapping[str, str], ledger: DialogueLedger, *, project: bool,
                 on_views: Callable[[str, dict[str, int]], None]) -> None:
        self.settings = dict(settings)
        self.ledger = ledger
        self.project = project
        self.on_views = on_views
        self._lock = threading.Lock()  # the connection, the pending commands, the ids
        self._pending: dict[int, Future[Any]] = {}
        self._ids = count(1)
        self._closing = False
        self._joining = threading.Lock()
        self._conn: Connection | None = None
        self.process: Any = None
        self.restarts = 0
        self.deadline = command_deadline()
        self._start()
        self._reader = threading.Thread(target=self._read, name="command-answers",
                                        daemon=True)
        self._reader.start()

    # --- running commands ----------------------------------------------------------------
    def submit(self, command: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> tuple[int, Future[Any]]:
        name = command_process.COMMAND_NAMES.get(command)
        if name is None:
            raise TypeError(f"{command!r} is not a registered command (see "
                            "api.command_process.COMMANDS)")
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # sent is sent: it can no longer be withdrawn
        with self._lock:
            if self._conn is None:
                raise unavailable("the command process is restarting; nothing was recorded")
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                self._conn.send((request_id, name, args, kwargs))
            except (OSError, ValueError):
                del self._pending[request_id]
                raise unavailable("the command process stopped; nothing was recorded") from None
            except BaseException:  # an argument that cannot be pickled
                del self._pending[request_id]
                raise
        return request_id, future

    def call(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
             *args: P.args, **kwargs: P.kwargs) -> T:
        request_id, future = self.submit(command, args, kwargs)
        deadline = time.monotonic() + self.deadline
        while True:
            try:
                result: T = future.result(timeout=WAIT_STEP)
            except TimeoutError:
                self._check_waiting(request_id, deadline)
                continue
            return result

    async def run(self, command: Callable[Concatenate[DialogueLedger, P], T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        request_id, future = self.submit(command, args, kwargs)
        deadline = time.monotonic() + self.deadline
        answer = asyncio.wrap_future(future)
        while True:
            done, _ = await asyncio.wait({answer}, timeout=WAIT_STEP)
            if done:
                result: T = answer.result()
                return result
            self._check_waiting(request_id, deadline)

    def _check_waiting(self, request_id: int, deadline: float) -> None:
        """Raise a 503 for a command past its deadline, or still unanswered
        :data:`STOPPING_WAIT` seconds after the server was asked to stop (an answer before
        the server closes the connection, rather than none): its answer, if it ever comes,
        is dropped."""
        now = time.monotonic()
        stopping = bool(STOP_REQUESTED) and now >= STOP_REQUESTED[0] + STOPPING_WAIT
        if now < deadline and not stopping:
            return
        with self._lock:
            self._pending.pop(request_id, None)
        if stopping:
            raise unavailable(f"the server is stopping and the command has not answered; "
                              f"{MAY_HAVE_BEEN_RECORDED}")
        log.warning("command %d got no answer within %.1f s", request_id, self.deadline)
        raise unavailable(f"the command got no answer within {self.deadline:g} s; "
                          f"{MAY_HAVE_BEEN_RECORDED}", code="command-timeout")

    @property
    def available(self) -> bool:
        return self._conn is not None

    def hurry(self) -> None:
        """A reader is waiting for the views: the command process's projector applies what
        has been recorded at once."""
        with self._lock:
            if self._conn is not None:
                with suppress(OSError, ValueError):
                    self._conn.send(command_process.HURRY)

    # --- answers -------------------------------------------------------------------------
    def _read(self) -> None:
        while True:
            conn = self._conn
            try:
                if conn is None:
                    raise EOFError
                message = conn.recv()
            except (EOFError, OSError):
                if not self._restart():
                    return
                continue
            except Exception:  # an answer that cannot be read: its caller's deadline answers
                log.exception("an answer from the command process could not be read")
                continue
            try:
                self._answer(message)
            except Exception:  # never leave the reader: every later answer depends on it
                log.exception("the command process's message %r could not be handled",
                              message[:2])

    def _answer(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "views":
            self.on_views(message[1], message[2])
            return
        with self._lock:
            future = self._pending.pop(message[1], None)
        if kind == "failed":
            if future is not None:
                future.set_exception(message[2])
            return
        try:
            if message[3] is not None:  # even if past its deadline: caches first
                self.ledger.announce(message[3])
        finally:
            if future is not None and kind == "done":
                future.set_result(message[2])
            elif future is not None:  # "lost": the answer could not cross the pipe
                log.error("a command's answer could not be sent back: %s", message[2])
                future.set_exception(unavailable(
                    f"the command ran but its answer could not be returned; "
                    f"{MAY_HAVE_BEEN_RECORDED}", code="command-answer-lost"))

    def _restart(self) -> bool:
        """The command process stopped: fail what it was running, start another (unless
        closing). False once closed."""
        with self._lock:
            conn, self._conn = self._conn, None
            pending, self._pending = self._pending, {}
        if conn is not None:
            conn.close()
        for future in pending.values():
            future.set_exception(unavailable(
                f"the command process stopped before answering; {MAY_HAVE_BEEN_RECORDED}"))
        if self._closing:
            return False
        self._join(self.process, timeout=5)
        delay = 0.05
        while not self._closing and not STOP_REQUESTED:
            log.warning("the command process stopped (exit code %s); starting another",
                        getattr(self.process, "exitcode", None))
            try:
                self._start()
                self.restarts += 1
                return True
            except Exception as error:
                log.warning("the command process could not start (%s); retrying", error)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        return False

    def _start(self) -> None:
        ours, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=command_process.main,
                                   args=(self.settings, theirs, self.project, COMMAND_THREADS),
                                   name="dialogue-ledger-commands", daemon=True)
        process.start()
        theirs.close()
        try:  # as long as it takes to bring the views up to date, unless asked to stop
            while not ours.poll(0.2):
                if STOP_REQUESTED:
                    ours.close()
                    process.kill()
                    self._join(process)
                    raise StoppedWhileStarting(
                        "the server was asked to stop while its command process was starting")
            message = ours.recv()
        except (EOFError, OSError) as error:
            ours.close()
            process.kill()
            self._join(process)
            raise RuntimeError(f"the command process could not start: {error!r} "
                               f"(exit code {process.exitcode})") from None
        if message[0] != "ready":  # the store could not be opened: its error, as raised
            ours.close()
            self._join(process)
            raise message[2]
        with self._lock:
            self._conn, self.process = ours, process

    def close(self) -> None:
        self._closing = True
        with self._lock:
            conn, process = self._conn, self.process
            if conn is not None:
                with suppress(OSError, ValueError):
                    conn.send(None)  # finish what is under way, then stop
        if process is not None:
            self._join(process, timeout=STOP_GRACE)
            if process.is_alive():
                log.warning("the command process did not stop within %.0f s; terminating it",
                            STOP_GRACE)
                process.terminate()
                self._join(process, timeout=1)
            if process.is_alive():
                process.kill()
                self._join(process)
        self._reader.join(timeout=10)

    def _join(self, process: Any, timeout: float | None = None) -> None:
        """Wait for a command process to end. One thread at a time: two threads reading
        the fork server's report of its exit at once would take it from each other."""
        with self._joining:
            process.join(timeout)
