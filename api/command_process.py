"""The command process: runs an API process's commands, and follows them with the views.

Started by ``api.commands.ProcessCommands`` with the store's settings, one end of a pipe,
whether to keep the views current, and how many commands to run at once.
It opens the ledger (and, with ``project``, brings the views up to date and keeps them so),
says ``("ready",)``, then takes ``(request id, command, args, kwargs)`` messages until it
gets ``None`` or the pipe closes (its API process has gone): each command runs in one of a
few worker threads as ``command(ledger, *args, **kwargs)``, and its answer goes back as
``("done", request id, result, position)`` (the ledger position it recorded, None if it
recorded nothing) or ``("failed", request id, error)``. As the views advance it sends
``("views", prefix, positions)``; ``HURRY`` (a reader is waiting for a position) makes its
projector apply what has been recorded at once. On ``None`` it finishes the commands under
way first.
"""

from __future__ import annotations

import pickle
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from ledger.application import DialogueLedger
from projections.runner import Projector

#: The message that asks the projector to apply at once.
HURRY = "hurry"


def main(settings: Mapping[str, str], conn: Connection, project: bool, threads: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the API process stops this one
    # in order (``None``), after its last requests.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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

    def run(request_id: int, command: Callable[..., Any], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> None:
        recorded.position = None
        try:
            result = command(ledger, *args, **kwargs)
        except Exception as error:
            send(("failed", request_id, portable(error)))
        else:
            send(("done", request_id, result, recorded.position))

    pool = ThreadPoolExecutor(threads, thread_name_prefix="command")
    send(("ready",))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
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


def portable(error: Exception) -> Exception:
    """The error itself if it survives pickling whole, else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
