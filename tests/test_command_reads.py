"""On SQLite, a command reads ahead through a pool of its own, so its reads never queue behind
writers waiting for the single writer's lock (eventsourcing's pool hands out connections in
the order they were asked for, a waiting writer included)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ledger.application import DialogueLedger
from ledger.domain import Post
from tests.conftest import Clock
from tests.scenario import build_world, start_thread

#: How long the test lets anything wait before it calls it stuck (a hang guard).
PATIENCE = 10.0


def test_a_reply_reads_while_another_writer_waits_for_the_lock(
        sqlite_env: dict[str, str], clock: Clock) -> None:
    ledger = DialogueLedger(sqlite_env, clock=clock)
    try:
        _reply_while_a_writer_waits(ledger)
    finally:
        ledger.close()


def _reply_while_a_writer_waits(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    ledger.reply(opening, "Warm-up: the reply's aggregates are known.", actor_id=world.bob)

    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    holding, release, decided = threading.Event(), threading.Event(), threading.Event()

    def hold_the_writer() -> None:
        with datastore.transaction(commit=True):
            holding.set()
            release.wait(PATIENCE)

    def wait_for_the_writer() -> None:  # queues in the shared pool, ahead of later reads
        with datastore.transaction(commit=True):
            pass

    original = ledger._load_ahead

    def load_ahead_then_note(ids: object) -> None:
        original(ids)  # type: ignore[arg-type]
        decided.set()

    ledger._load_ahead = load_ahead_then_note  # type: ignore[method-assign]
    with ThreadPoolExecutor(3) as pool:
        held = pool.submit(hold_the_writer)
        assert holding.wait(PATIENCE)
        waiting = pool.submit(wait_for_the_writer)
        replied = pool.submit(ledger.reply, opening, "Read while a writer waits.",
                              actor_id=world.bob)
        # the reply has read its aggregates while the writer's lock is still held
        assert decided.wait(PATIENCE)
        assert not held.done() and not waiting.done() and not replied.done()
        release.set()
        receipt = replied.result(PATIENCE)
        held.result(PATIENCE)
        waiting.result(PATIENCE)
    assert ledger.get(Post, receipt.id).body == "Read while a writer waits."
