"""The organisation's listening: acknowledging posts, and commitments made in answer to them,
tracked until fulfilled or abandoned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

import pytest

from ledger.application import DialogueLedger, Receipt
from ledger.domain import Commitment, CommitmentStatus, Post
from ledger.errors import (
    AlreadyAcknowledged,
    CommitmentClosed,
    InvalidInput,
    NotARepresentative,
    NotFound,
    WrongCommunity,
)
from tests.scenario import World, build_world, refused, start_thread

Close = Callable[[DialogueLedger, UUID, UUID], Receipt]


def fulfil(ledger: DialogueLedger, commitment: UUID, actor: UUID) -> Receipt:
    return ledger.fulfil_commitment(commitment, "Open till eight since May", actor_id=actor)


def abandon(ledger: DialogueLedger, commitment: UUID, actor: UUID) -> Receipt:
    return ledger.abandon_commitment(commitment, "No budget after all", actor_id=actor)


def progress(ledger: DialogueLedger, commitment: UUID, actor: UUID) -> Receipt:
    return ledger.record_progress(commitment, "Staff hired", actor_id=actor)


def commit(ledger: DialogueLedger, world: World, post_ids: list[UUID]) -> UUID:
    return ledger.make_commitment(world.circle, post_ids, "Longer opening hours",
                                  due_on=date(2026, 6, 1), actor_id=world.rep).id


# --- acknowledgement -------------------------------------------------------------------------
def test_representatives_acknowledge_a_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    receipt = ledger.acknowledge_post(opening, actor_id=world.rep)
    ledger.acknowledge_post(opening, actor_id=world.org_moderator)
    assert receipt.id == opening
    assert ledger.get(Post, opening).acknowledged_by == {world.rep, world.org_moderator}


def test_only_a_representative_acknowledges_a_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    for listener in (world.alice, world.bob, world.community_moderator, world.auditor,
                     world.outsider):
        with refused(ledger, NotARepresentative):
            ledger.acknowledge_post(opening, actor_id=listener)
    assert ledger.get(Post, opening).acknowledged_by == set()


def test_a_representative_acknowledges_a_post_once(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    ledger.acknowledge_post(opening, actor_id=world.rep)
    with refused(ledger, AlreadyAcknowledged):
        ledger.acknowledge_post(opening, actor_id=world.rep)


def test_an_organisation_representative_must_represent_it_in_that_community(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.alice)
    _, in_square = start_thread(ledger, world.square, world.alice)
    with refused(ledger, NotARepresentative):  # omod represents it in circle, not square
        ledger.acknowledge_post(in_square, actor_id=world.org_moderator)
    ledger.acknowledge_post(in_square, actor_id=world.rep)


# --- commitments -----------------------------------------------------------------------------
def test_a_representative_makes_a_commitment_answering_posts(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, first = start_thread(ledger, world.circle, world.alice)
    _, second = start_thread(ledger, world.circle, world.bob, "Weekend hours")
    commitment_id = commit(ledger, world, [first, second, first])
    commitment = ledger.get(Commitment, commitment_id)
    assert (commitment.community_id, commitment.post_ids, commitment.text, commitment.due_on,
            commitment.status, commitment.progress) == (
        world.circle, (first, second), "Longer opening hours", date(2026, 6, 1),
        CommitmentStatus.OPEN, [])


def test_only_a_representative_makes_a_commitment(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    with refused(ledger, NotARepresentative):
        ledger.make_commitment(world.circle, [opening], "We promise", actor_id=world.bob)


def test_a_commitment_answers_at_least_one_existing_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, InvalidInput):
        commit(ledger, world, [])
    with refused(ledger, NotFound):
        commit(ledger, world, [UUID(int=7)])


def test_a_commitment_cannot_answer_a_post_of_another_community(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, here = start_thread(ledger, world.circle, world.alice)
    _, elsewhere = start_thread(ledger, world.square, world.rep)
    with refused(ledger, WrongCommunity):
        commit(ledger, world, [here, elsewhere])


def test_progress_is_recorded_then_the_commitment_fulfilled(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    commitment = commit(ledger, world, [opening])
    ledger.record_progress(commitment, "Budget approved", actor_id=world.rep)
    ledger.record_progress(commitment, "Staff hired", actor_id=world.org_moderator)
    fulfil(ledger, commitment, world.rep)
    kept = ledger.get(Commitment, commitment)
    assert (kept.status, kept.progress) == (CommitmentStatus.FULFILLED,
                                            ["Budget approved", "Staff hired"])


def test_a_commitment_can_be_abandoned(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    commitment = commit(ledger, world, [opening])
    receipt = abandon(ledger, commitment, world.org_moderator)
    assert receipt.id == commitment
    assert ledger.get(Commitment, commitment).status is CommitmentStatus.ABANDONED


@pytest.mark.parametrize("close", [fulfil, abandon])
def test_only_a_representative_tracks_a_commitment(ledger: DialogueLedger,
                                                   close: Close) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    commitment = commit(ledger, world, [opening])
    for act in (progress, close):
        with refused(ledger, NotARepresentative):
            act(ledger, commitment, world.alice)
    assert ledger.get(Commitment, commitment).status is CommitmentStatus.OPEN


@pytest.mark.parametrize("close", [fulfil, abandon])
def test_a_closed_commitment_takes_no_more_progress_nor_closing(ledger: DialogueLedger,
                                                                close: Close) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    commitment = commit(ledger, world, [opening])
    close(ledger, commitment, world.rep)
    closed_status = ledger.get(Commitment, commitment).status
    for act in (progress, fulfil, abandon):
        with refused(ledger, CommitmentClosed):
            act(ledger, commitment, world.rep)
    assert ledger.get(Commitment, commitment).status is closed_status
