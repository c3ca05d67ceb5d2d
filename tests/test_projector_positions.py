"""A projector that only watches (an API process whose command process projects) learns the
positions the applying projector reaches from it, never goes back, and hurries it when a
reader waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.application import DialogueLedger
from projections.runner import Projector


@pytest.fixture(name="ledger")
def ledger_fixture(store_env: dict[str, str]) -> Iterator[DialogueLedger]:
    app = DialogueLedger(store_env)
    yield app
    app.close()


def record(ledger: DialogueLedger, handle: str) -> int:
    return ledger.register_person(handle, handle.title()).position


def test_a_watching_projector_takes_the_positions_the_applying_one_tells_it(
        ledger: DialogueLedger) -> None:
    applying, watching = Projector(ledger), Projector(ledger)
    applying.progress_listeners.append(watching.observe)
    position = record(ledger, "ada")
    assert watching.position == 0
    applying.catch_up()
    assert watching.position == applying.position == position


def test_positions_of_other_view_tables_are_ignored(ledger: DialogueLedger) -> None:
    watching = Projector(ledger)
    record(ledger, "ada")
    watching.observe("another_generation_", {s.view.name: 1 for s in watching.stores})
    assert watching.position == 0


def test_a_refresh_that_read_before_an_observation_does_not_move_positions_back(
        ledger: DialogueLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    applying, watching = Projector(ledger), Projector(ledger)
    position = record(ledger, "ada")
    stale = {s.view.name: 0 for s in watching.stores}
    first = watching.stores[0]
    read = first.position

    def read_then_observe() -> int:  # the applying projector commits after this read
        found = read()
        applying.catch_up()
        watching.observe(applying.prefix, {name: position for name in stale})
        return found

    monkeypatch.setattr(first, "position", read_then_observe)
    watching.refresh()
    assert watching.position == position


def test_a_reader_waiting_on_a_watching_projector_hurries_the_applying_one(
        ledger: DialogueLedger) -> None:
    applying, watching = Projector(ledger), Projector(ledger)
    applying.progress_listeners.append(watching.observe)
    hurried: list[int] = []

    def hurry() -> None:  # in the API, a message to the command process's projector
        hurried.append(1)
        applying.catch_up()

    watching.hurry_elsewhere = hurry
    position = record(ledger, "ada")
    with watching.start(apply=False):
        assert watching.wait(position, timeout=10)
    assert hurried
    assert watching.position == position
