"""The command process: runs an API process's commands, and follows them with the views.

Started by ``api.commands.ProcessCommands`` with the store's settings, one end of a pipe,
whether to keep the views current, and how many commands to run at once.
It opens the ledger (and, with ``project``, brings the views up to date and keeps them so),
says ``("ready",)``, then takes ``(request id, command name, args, kwargs)`` messages until
it gets ``None`` or the pipe closes (its API process has gone): a command is a NAME from the
closed registry :data:`COMMAND_NAMES` (a name it does not know is refused) and plain values
(strings, numbers, ids, dates, the ledger's own value types: a function or any other class is
refused when the message is read, see :func:`plain_values`). Each command runs in one of a
few worker threads as ``command(ledger, *args, **kwargs)``, and its answer goes back as
``("done", request id, result, position)`` (the ledger position it recorded, None if it
recorded nothing), ``("failed", request id, error)``, or, if the answer itself cannot cross
the pipe, ``("lost", request id, description, position)``. As the views advance it sends
``("views", prefix, positions)``; ``HURRY`` (a reader is waiting for a position) makes its
projector apply what has been recorded at once. On ``None`` it finishes the commands under
way first.

Signals: SIGINT is ignored (Ctrl-C reaches the whole process group: the API process stops
this one in order). SIGTERM (a supervisor stopping the group, or an operator) lets it go on
serving its API process for up to :data:`STOP_GRACE` seconds (the API process usually sends
``None`` sooner), then it finishes the commands under way and exits with status 0.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import pickletools
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from enum import Enum
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import PersistenceError

from ledger.application import DialogueLedger, Receipt
from ledger.domain import CommandId, PostKind
from projections.runner import Projector

#: The message that asks the projector to apply at once.
HURRY = "hurry"
#: Seconds a command process goes on serving its API process after a SIGTERM.
STOP_GRACE = 5.0

#: The ledger's commands a command process runs (``DialogueLedger`` methods, by name).
LEDGER_COMMANDS = (
    "register_person", "found_organisation", "appoint_representative", "create_community",
    "change_admission_rule", "join_community", "leave_community", "grant_role", "revoke_role",
    "invite_directly", "accept_invitation", "decline_invitation", "nominate", "cast_vote",
    "change_vote", "decide_nomination", "open_thread", "reply", "edit_post", "retract_post",
    "acknowledge_post", "make_commitment", "record_progress", "fulfil_commitment",
    "abandon_commitment", "moderate", "notify_author", "lodge_appeal", "decide_appeal",
)


def reply_in_thread(ledger: DialogueLedger, post_id: UUID, body: str, *, kind: PostKind,
                    actor_id: UUID, command_id: CommandId | None) -> tuple[Receipt, UUID]:
    """The reply command, and the reply's thread (its parent's) for its Location."""
    receipt = ledger.reply(post_id, body, kind=kind, actor_id=actor_id, command_id=command_id)
    return receipt, ledger.thread_of(post_id)


#: Every command a command process runs, by the name that crosses the pipe. Closed: the
#: API process sends a name from here, never a function.
COMMANDS: dict[str, Callable[..., Any]] = {
    **{name: getattr(DialogueLedger, name) for name in LEDGER_COMMANDS},
    "reply_in_thread": reply_in_thread,
}
#: The name of each registered command, for the API process.
COMMAND_NAMES: dict[Callable[..., Any], str] = {f: name for name, f in COMMANDS.items()}


class UnknownCommand(Exception):
    """A message named a command that is not in the registry, or carried a value that is
    not a plain one."""


class _PlainValues(pickle.Unpickler):
    """Reads a message, refusing anything but plain values: ids, dates and times, and the
    domain's value types (enumerations, frozen records, command ids). A function, or any
    other class (what an arbitrary pickle would call), is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("uuid", "datetime") or module.startswith("ledger.domain"):
            found = super().find_class(module, name)
            if module in ("uuid", "datetime") and isinstance(found, type):
                return found
            if isinstance(found, type) and (issubclass(found, (Enum, CommandId)) or (
                    dataclasses.is_dataclass(found) and not issubclass(found, Aggregate))):
                return found
        raise UnknownCommand(f"{module}.{name} is not a plain command value")


def plain_values(data: bytes) -> Any:
    """A message read from its bytes with :class:`_PlainValues`."""
    return _PlainValues(io.BytesIO(data)).load()


def main(settings: Mapping[str, str], conn: Connection, project: bool, threads: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the API process stops this one
    # in order (``None``), after its last requests.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminated: list[float] = []  # when SIGTERM came (a list: appending takes no lock)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not terminated:
            terminated.append(time.monotonic())

    signal.signal(signal.SIGTERM, on_sigterm)
    sending = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with sending:
            conn.send(message)

    try:
        ledger = DialogueLedger(settings)
        projector = Projector(ledger) if project else None
        if projector is not None:
            projector.catch_up()
    except Exception as error:
        send(("failed", 0, portable(error)))
        return
    recorded = threading.local()  # the position each worker thread's command recorded
    ledger.listeners.append(lambda position: setattr(recorded, "position", position))
    if projector is not None:
        projector.progress_listeners.append(
            lambda prefix, positions: send(("views", prefix, positions)))
        projector.start()

    def run(request_id: int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
            ) -> None:
        recorded.position = None
        try:
            command = COMMANDS.get(name) if isinstance(name, str) else None
            if command is None:
                raise UnknownCommand(f"{name!r} is not a command")
            result = command(ledger, *args, **kwargs)
        except Exception as error:
            answer: tuple[Any, ...] = ("failed", request_id, portable(error))
        else:
            answer = ("done", request_id, result, recorded.position)
        try:
            send(answer)
        except (OSError, ValueError):
            pass  # the API process has gone
        except Exception as error:  # the answer cannot be pickled: say so, never nothing
            with suppress(Exception):
                send(("lost", request_id, f"{type(error).__name__}: {error}",
                      recorded.position))

    pool = ThreadPoolExecutor(threads, thread_name_prefix="command")
    send(("ready",))
    try:
        while not terminated or time.monotonic() - terminated[0] < STOP_GRACE:
            try:
                if not conn.poll(0.2):
                    continue
                data = conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                message = plain_values(data)
            except Exception as error:  # not a plain message: refused, never run
                request_id = _request_id(data)
                if request_id is not None:
                    with suppress(Exception):
                        send(("failed", request_id, portable(error)))
                continue
            if message is None:
                break
            if message == HURRY:
                if projector is not None:
                    projector.hurry()
                continue
            pool.submit(run, *message)
    finally:
        pool.shutdown(wait=True)
        if projector is not None:
            projector.stop()
        ledger.close()
        conn.close()


def _request_id(data: bytes) -> int | None:
    """The request id of a refused message, read without loading any of its values."""
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("BININT", "BININT1", "BININT2", "LONG1"):
                return argument if isinstance(argument, int) else None
    except Exception:
        return None
    return None


def portable(error: Exception) -> Exception:
    """The error itself if it survives pickling whole, else one of its class with its text
    (a store error stays a store error), else a RuntimeError naming it."""
    for candidate in (error, _plain_copy(error)):
        try:
            pickle.loads(pickle.dumps(candidate))
        except Exception:
            continue
        return candidate
    return RuntimeError(f"{type(error).__name__}: {error}")


def _plain_copy(error: Exception) -> Exception:
    if isinstance(error, PersistenceError):
        try:
            return type(error)(str(error))
        except Exception:
            return PersistenceError(str(error))
    return error
