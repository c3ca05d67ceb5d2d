"""Group commit on SQLite (``ledger/group_commit.py``): saves made at once share one
transaction; each gets its own positions, a conflicting one fails alone, and a failed commit
records none of them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.application import DialogueLedger
from ledger.group_commit import GroupCommit


@pytest.fixture(name="ledger")
def ledger_fixture(sqlite_env: dict[str, str]) -> Iterator[DialogueLedger]:
    app = DialogueLedger(sqlite_env)
    yield app
    app.close()


def group_of(ledger: DialogueLedger) -> GroupCommit:
    group = getattr(ledger.recorder.insert_events, "__self__", None)
    assert isinstance(group, GroupCommit), "a SQLite ledger commits in groups"
    return group


def event(originator: uuid.UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="tests:Happened", state=state)


def queued_together(group: GroupCommit, saves: list[Callable[[], Any]]) -> list[Future[Any]]:
    """Run the saves in threads while the group's writer is held, so that all of them queue,
    then let them be written: as one group."""
    pool = ThreadPoolExecutor(len(saves))
    with group._writing:
        futures = [pool.submit(save) for save in saves]
        deadline = time.monotonic() + 10
        while len(group._queue) < len(saves) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(group._queue) == len(saves)
    pool.shutdown(wait=True)
    return futures


def stored(ledger: DialogueLedger, originator: uuid.UUID) -> list[StoredEvent]:
    return list(ledger.recorder.select_events(originator))


def test_saves_made_at_once_share_one_commit_and_each_gets_its_own_positions(
        ledger: DialogueLedger) -> None:
    group = group_of(ledger)
    originators = [uuid.uuid4() for _ in range(6)]
    futures = queued_together(group, [
        lambda o=o: ledger.recorder.insert_events([event(o, 1), event(o, 2)])
        for o in originators])
    assert group.grouped == 1
    positions = [p for f in futures for p in f.result()]
    assert sorted(positions) == list(range(1, 13))
    for originator, future in zip(originators, futures, strict=True):
        assert len(stored(ledger, originator)) == 2
        notified = ledger.recorder.select_notifications(future.result()[0], 2)
        assert {n.originator_id for n in notified} == {originator}


def test_a_conflicting_save_in_a_group_fails_alone(ledger: DialogueLedger) -> None:
    group = group_of(ledger)
    taken, other = uuid.uuid4(), uuid.uuid4()
    ledger.recorder.insert_events([event(taken, 1)])
    futures = queued_together(group, [
        lambda: ledger.recorder.insert_events([event(other, 1)]),
        lambda: ledger.recorder.insert_events([event(taken, 2), event(taken, 1)]),
        lambda: ledger.recorder.insert_events([event(other, 2)])])
    with pytest.raises(IntegrityError):
        futures[1].result()
    assert [len(f.result()) for f in (futures[0], futures[2])] == [1, 1]
    assert [e.originator_version for e in stored(ledger, taken)] == [1]  # not even 2
    assert [e.originator_version for e in stored(ledger, other)] == [1, 2]


def test_a_group_whose_commit_fails_records_none_of_its_saves(
        ledger: DialogueLedger) -> None:
    group = group_of(ledger)
    first, second = uuid.uuid4(), uuid.uuid4()
    unstorable: Any = object()  # SQLite cannot bind it: the whole transaction fails
    futures = queued_together(group, [
        lambda: ledger.recorder.insert_events([event(first, 1)]),
        lambda: ledger.recorder.insert_events([event(second, 1, state=unstorable)])])
    for future in futures:
        with pytest.raises(Exception):  # noqa: B017 - whatever the store raised
            future.result()
    assert stored(ledger, first) == [] and stored(ledger, second) == []
    assert ledger.position == 0


def later(i: int) -> str:
    """A handle without a look-alike claim (digits 0 and 1 look like o and l)."""
    return "later-" + "".join("abcdefghij"[int(d)] for d in str(i))


def test_commands_saved_at_once_are_all_recorded_once(ledger: DialogueLedger) -> None:
    people = [ledger.register_person(f"person{i}", f"Person {i}").id for i in range(4)]
    before = ledger.position
    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(
            lambda i: ledger.register_person(later(i), f"Later {i}",
                                             actor_id=people[i % 4]), range(40)))
    assert len({r.position for r in receipts}) == 40
    assert ledger.position == before + 40
    assert {ledger.person_id(later(i)) for i in range(40)} == {r.id for r in receipts}


def test_a_postgres_ledger_keeps_the_librarys_own_insert(postgres_env: dict[str, str]) -> None:
    app = DialogueLedger(postgres_env)
    try:
        assert not isinstance(getattr(app.recorder.insert_events, "__self__", None),
                              GroupCommit)
    finally:
        app.close()


def test_one_save_alone_is_written_as_the_library_writes_it(ledger: DialogueLedger) -> None:
    group = group_of(ledger)
    originator = uuid.uuid4()
    assert list(ledger.recorder.insert_events([event(originator, 1)]) or []) == [1]
    assert group.grouped == 0
    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events([event(originator, 1)])
    assert len(stored(ledger, originator)) == 1
