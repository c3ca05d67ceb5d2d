"""Running commands: retried command ids, what every event records about its act, and that
a refused command changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson

from ledger.application import DialogueLedger, Receipt
from ledger.domain import (
    Action,
    AppealOutcome,
    Choice,
    CommandId,
    Nomination,
    Post,
    PostKind,
    ReasonCode,
    Thread,
)
from ledger.errors import (
    AlreadyVoted,
    CommandIdReused,
    CommandIdReusedForAnotherRequest,
    InvalidInput,
    LedgerError,
    NotAMember,
    NotFound,
    ThreadLocked,
)
from tests.conftest import Clock
from tests.scenario import (
    World,
    build_world,
    opening_post,
    raw_events,
    refused,
    start_thread,
)

Command = Callable[[DialogueLedger, World, str], Receipt]


def open_a_thread(ledger: DialogueLedger, world: World, command_id: str) -> Receipt:
    return ledger.open_thread(world.circle, PostKind.CONCERN, "Parking", "No spaces left",
                              actor_id=world.bob, command_id=command_id)


def join_the_square(ledger: DialogueLedger, world: World, command_id: str) -> Receipt:
    return ledger.join_community(world.square, actor_id=world.carol, command_id=command_id)


def nominate_outsider(ledger: DialogueLedger, world: World, command_id: str) -> Receipt:
    return ledger.nominate(world.circle, world.outsider, "Helpful", actor_id=world.alice,
                           command_id=command_id)


def test_a_retried_command_id_returns_the_first_receipt_and_records_nothing(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    commands: list[Command] = [open_a_thread, join_the_square, nominate_outsider]
    firsts = []
    for number, command in enumerate(commands):
        first = command(ledger, world, f"retry-me-{number}")
        assert (first.replayed, first.position) == (False, ledger.position)
        firsts.append(first)
    head = ledger.position
    for number, (command, first) in enumerate(zip(commands, firsts, strict=True)):
        again = command(ledger, world, f"retry-me-{number}")  # retried later, out of order
        assert (again.id, again.position, again.replayed) == (first.id, first.position, True)
        assert ledger.position == head, command.__name__
    assert len({first.position for first in firsts}) == 3


def test_a_retry_is_answered_even_though_the_command_could_not_run_twice(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate_outsider(ledger, world, "nominate-1").id
    first = ledger.cast_vote(nomination, Choice.ADMIT, "Yes", actor_id=world.bob,
                             command_id="vote-1")
    with refused(ledger, AlreadyVoted):  # without the command id it is a second vote
        ledger.cast_vote(nomination, Choice.ADMIT, "Yes", actor_id=world.bob)
    position = ledger.position
    again = ledger.cast_vote(nomination, Choice.ADMIT, "Yes", actor_id=world.bob,
                             command_id="vote-1")
    assert again == Receipt(first.id, first.position, replayed=True)
    assert ledger.position == position
    assert len(ledger.get(Nomination, nomination).ballots) == 1


def test_a_retry_through_another_application_on_the_same_store_is_answered(
        ledger: DialogueLedger, make_ledger: Callable[[], DialogueLedger]) -> None:
    world = build_world(ledger)
    first = open_a_thread(ledger, world, "from-node-a")
    other = make_ledger()
    again = open_a_thread(other, world, "from-node-a")
    assert (again.id, again.position, again.replayed) == (first.id, first.position, True)
    assert other.position == ledger.position == first.position


def test_a_command_id_used_for_another_command_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    open_a_thread(ledger, world, "shared-id")
    with refused(ledger, CommandIdReused):
        join_the_square(ledger, world, "shared-id")


def test_a_command_id_retried_with_another_request_is_refused(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    first = open_a_thread(ledger, world, CommandId("retried", request="digest-1"))
    head = ledger.position
    with refused(ledger, CommandIdReusedForAnotherRequest):
        open_a_thread(ledger, world, CommandId("retried", request="digest-2"))
    again = open_a_thread(ledger, world, CommandId("retried", request="digest-1"))
    assert (again.id, again.position, again.replayed) == (first.id, first.position, True)
    assert ledger.position == head


def test_a_command_id_without_a_request_digest_is_compared_by_command_and_actor(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    first = open_a_thread(ledger, world, "plain")
    assert open_a_thread(ledger, world, CommandId("plain", request="digest")).replayed
    recorded = open_a_thread(ledger, world, CommandId("digested", request="digest"))
    again = open_a_thread(ledger, world, "digested")
    assert (again.id, again.replayed) == (recorded.id, True)
    assert first.id != recorded.id


def test_a_refused_command_keeps_its_command_id_free(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC, "Pause",
                    thread_id=thread_id, actor_id=world.community_moderator)
    with refused(ledger, ThreadLocked):
        ledger.reply(opening, "Let me finish", actor_id=world.bob, command_id="reply-1")
    ledger.moderate(world.circle, Action.UNLOCK_THREAD, ReasonCode.OTHER, "Resume",
                    thread_id=thread_id, actor_id=world.community_moderator)
    receipt = ledger.reply(opening, "Let me finish", actor_id=world.bob, command_id="reply-1")
    assert (receipt.replayed, receipt.position) == (False, ledger.position)
    assert ledger.get(Post, receipt.id).parent_id == opening


def test_a_blank_or_overlong_command_id_is_invalid_input(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    for command_id in ("", "   ", "x" * 201):
        with refused(ledger, InvalidInput, command_id[:5]):
            open_a_thread(ledger, world, command_id)


# --- what every event records ----------------------------------------------------------------
def test_every_event_carries_the_act_with_actor_utc_time_and_command_id(
        ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    start = ledger.position + 1
    clock.advance(hours=3)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    steps: list[tuple[UUID, str, Callable[[str], Receipt]]] = [
        (world.bob, "c-reply", lambda c: ledger.reply(opening, "Me too", actor_id=world.bob,
                                                      command_id=c)),
        (world.alice, "c-edit", lambda c: ledger.edit_post(opening, "Edited",
                                                           actor_id=world.alice,
                                                           command_id=c)),
        (world.alice, "c-nominate", lambda c: nominate_outsider(ledger, world, c)),
        (world.rep, "c-ack", lambda c: ledger.acknowledge_post(opening, actor_id=world.rep,
                                                               command_id=c)),
        (world.org_moderator, "c-lock",
         lambda c: ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OTHER, "Stop",
                                   thread_id=thread_id, actor_id=world.org_moderator,
                                   command_id=c)),
        (world.carol, "c-join", lambda c: join_the_square(ledger, world, c)),
        (world.rep, "c-commit", lambda c: ledger.make_commitment(
            world.circle, [opening], "Review the hours", actor_id=world.rep, command_id=c)),
    ]
    expected: dict[int, tuple[UUID, str | None, datetime]] = {
        position: (world.alice, None, clock.now)
        for position in range(start, ledger.position + 1)}
    for actor, command_id, run in steps:
        before = ledger.position
        clock.advance(minutes=5)
        run(command_id)
        for position in range(before + 1, ledger.position + 1):
            expected[position] = (actor, command_id, clock.now)
    assert len(expected) >= 2 * len(steps)
    notifications = ledger.recorder.select_notifications(start=1, limit=1000)
    assert len(notifications) == ledger.position
    for notification in notifications:
        act = orjson.loads(notification.state)["act"]
        assert set(act) == {"actor_id", "occurred_at", "command_id"}, notification.topic
        occurred_at = datetime.fromisoformat(act["occurred_at"])
        assert occurred_at.utcoffset() == timedelta(0), notification.topic
        recorded = (UUID(act["actor_id"]), act["command_id"], occurred_at)
        if notification.id in expected:
            assert recorded == expected[notification.id], notification.topic


def test_occurred_at_given_to_a_command_is_recorded_apart_from_the_recording_time(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    before = ledger.position
    back_then = datetime(2019, 5, 17, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    thread_id = ledger.open_thread(world.circle, PostKind.QUESTION, "From the archive",
                                   "An old question", actor_id=world.alice,
                                   occurred_at=back_then).id
    events = raw_events(ledger, before + 1)
    assert len(events) == 2
    for _, state in events:
        occurred_at = datetime.fromisoformat(state["act"]["occurred_at"])
        recorded_at = datetime.fromisoformat(state["timestamp"])
        assert occurred_at == back_then
        assert occurred_at.utcoffset() == timedelta(0)
        assert recorded_at - occurred_at > timedelta(days=365)
    opening = ledger.get(Post, opening_post(ledger, thread_id))
    assert opening.versions[0].occurred_at == back_then


def test_occurred_at_in_a_historic_zone_is_recorded_exactly(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    before = ledger.position
    amsterdam_1900 = datetime(1900, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    ledger.open_thread(world.circle, PostKind.QUESTION, "Very old", "Archived",
                       actor_id=world.alice, occurred_at=amsterdam_1900)
    for _, state in raw_events(ledger, before + 1):
        assert datetime.fromisoformat(state["act"]["occurred_at"]) == amsterdam_1900


def test_a_naive_occurred_at_is_invalid_input(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, InvalidInput):
        ledger.open_thread(world.circle, PostKind.QUESTION, "Naive", "No zone",
                           actor_id=world.alice, occurred_at=datetime(2024, 1, 1, 12))


def test_the_deadline_follows_the_occurred_at_of_the_nomination(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    then = datetime(2025, 1, 1, tzinfo=UTC)
    nomination = ledger.nominate(world.circle, world.outsider, "Archived", actor_id=world.bob,
                                 occurred_at=then).id
    assert ledger.get(Nomination, nomination).deadline == then + timedelta(days=7)


# --- refused commands change nothing ---------------------------------------------------------
Refusal = Callable[[DialogueLedger, World, UUID, UUID], object]

REFUSALS: list[tuple[str, type[LedgerError], Refusal]] = [
    ("outsider opens a thread", NotAMember,
     lambda lg, w, t, p: lg.open_thread(w.circle, PostKind.QUESTION, "T", "B",
                                        actor_id=w.outsider)),
    ("reply to a missing post", NotFound,
     lambda lg, w, t, p: lg.reply(UUID(int=3), "B", actor_id=w.alice)),
    ("vote on a missing nomination", NotFound,
     lambda lg, w, t, p: lg.cast_vote(UUID(int=4), Choice.ADMIT, "R", actor_id=w.alice)),
    ("appeal a missing decision", NotFound,
     lambda lg, w, t, p: lg.lodge_appeal(UUID(int=5), "S", actor_id=w.alice)),
    ("decide a missing appeal", NotFound,
     lambda lg, w, t, p: lg.decide_appeal(UUID(int=6), AppealOutcome.UPHELD, "R",
                                          actor_id=w.org_moderator)),
    ("empty thread title", InvalidInput,
     lambda lg, w, t, p: lg.open_thread(w.circle, PostKind.QUESTION, " ", "B",
                                        actor_id=w.alice)),
    ("actor that is not an id", InvalidInput,
     lambda lg, w, t, p: lg.reply(p, "B", actor_id="alice")),  # type: ignore[arg-type]
    ("unknown thread to lock", NotFound,
     lambda lg, w, t, p: lg.moderate(w.circle, Action.LOCK_THREAD, ReasonCode.OTHER, "S",
                                     thread_id=UUID(int=8), actor_id=w.org_moderator)),
]


def test_a_refused_command_records_nothing(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    for name, error, refusal in REFUSALS:
        with refused(ledger, error, name):
            refusal(ledger, world, thread_id, opening)
    assert ledger.get(Thread, thread_id).locked is False


def test_another_persons_command_id_is_not_answered_with_their_receipt(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.open_thread(world.circle, PostKind.CONCERN, "Parking", "No spaces left",
                       actor_id=world.bob, command_id="shared-id")
    with refused(ledger, CommandIdReused):
        ledger.open_thread(world.circle, PostKind.CONCERN, "Parking", "No spaces left",
                           actor_id=world.alice, command_id="shared-id")
