"""Moderation and appeals: who moderates, which side they are on, what a decision does, who
appeals, who reviews, and what a reversal restores."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.application import DialogueLedger
from ledger.domain import (
    Action,
    AppealOutcome,
    ModerationDecision,
    ModerationState,
    Post,
    ReasonCode,
    Side,
    Status,
    Thread,
)
from ledger.errors import (
    AppealAlreadyDecided,
    AppealAlreadyLodged,
    AppealNotPossible,
    CannotReplyToRemovedPost,
    CannotReviewOwnDecision,
    InvalidInput,
    NoAppealLodged,
    NotAffectedAuthor,
    NotAModerator,
    PostAlreadyModerated,
    WrongCommunity,
)
from tests.scenario import World, build_world, membership, refused, start_thread


def remove(ledger: DialogueLedger, world: World, post_id: UUID,
           moderator: UUID | None = None, action: Action = Action.REMOVE_POST) -> UUID:
    return ledger.moderate(world.circle, action, ReasonCode.HARASSMENT, "Personal attack",
                           post_ids=[post_id],
                           actor_id=moderator or world.community_moderator).id


def rude_reply(ledger: DialogueLedger, world: World) -> tuple[UUID, UUID]:
    """``(opening post, bob's rude reply to it)`` in a thread alice opened."""
    _, opening = start_thread(ledger, world.circle, world.alice)
    return opening, ledger.reply(opening, "You are an idiot", actor_id=world.bob).id


def appeal(ledger: DialogueLedger, decision: UUID, appellant: UUID) -> None:
    ledger.lodge_appeal(decision, "It was a joke between friends", actor_id=appellant)


# --- who moderates ---------------------------------------------------------------------------
def test_a_non_moderator_cannot_moderate(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    for member in (world.alice, world.rep, world.auditor, world.outsider):
        with refused(ledger, NotAModerator):
            remove(ledger, world, rude, moderator=member)
    assert ledger.get(Post, rude).moderation is None


def test_a_moderator_of_one_community_cannot_moderate_another(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.bob)
    _, in_square = start_thread(ledger, world.square, world.bob)
    with refused(ledger, NotAModerator):
        ledger.moderate(world.square, Action.HIDE_POST, ReasonCode.SPAM, "Spam",
                        post_ids=[in_square], actor_id=world.community_moderator)
    with refused(ledger, WrongCommunity):  # nor reach into it from their own
        ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.SPAM, "Spam",
                        post_ids=[in_square], actor_id=world.community_moderator)


def test_a_moderators_side_is_recorded_on_the_role_and_each_decision(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    hide = remove(ledger, world, rude, world.community_moderator, action=Action.HIDE_POST)
    removal = remove(ledger, world, rude, world.org_moderator)
    for moderator, side, decision_id in ((world.community_moderator, Side.COMMUNITY, hide),
                                         (world.org_moderator, Side.ORGANISATION, removal)):
        assert membership(ledger, world.circle, moderator).moderator_side is side
        decision = ledger.get(ModerationDecision, decision_id)
        assert (decision.moderator_id, decision.moderator_side) == (moderator, side)


def test_a_moderation_decision_records_its_grounds_and_its_effect(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    opening, rude = rude_reply(ledger, world)
    decision_id = ledger.moderate(world.circle, Action.REMOVE_POST, ReasonCode.HARASSMENT,
                                  "Personal attacks", post_ids=[rude, opening, rude],
                                  automated_detection=True,
                                  actor_id=world.community_moderator).id
    decision = ledger.get(ModerationDecision, decision_id)
    assert (decision.community_id, decision.action, decision.reason_code, decision.statement,
            decision.post_ids, decision.affected_person_ids, decision.automated_detection,
            decision.author_notified, decision.appellant_id) == (
        world.circle, Action.REMOVE_POST, ReasonCode.HARASSMENT, "Personal attacks",
        (rude, opening), (world.bob, world.alice), True, False, None)
    assert ledger.get(Post, rude).moderation is ModerationState.REMOVED
    assert ledger.get(Post, opening).moderation is ModerationState.REMOVED


def test_a_decision_names_exactly_the_targets_of_its_action(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    with refused(ledger, InvalidInput):  # a post action without posts
        ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.SPAM, "Spam",
                        actor_id=world.community_moderator)
    with refused(ledger, InvalidInput):  # a thread action naming posts
        ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.SPAM, "Spam",
                        thread_id=thread_id, post_ids=[opening],
                        actor_id=world.community_moderator)
    with refused(ledger, InvalidInput):  # a member action without a member
        ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.SPAM, "Spam",
                        actor_id=world.community_moderator)


def test_removing_a_removed_post_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    remove(ledger, world, rude)
    with refused(ledger, PostAlreadyModerated):
        remove(ledger, world, rude, world.org_moderator)


def test_a_moderator_locks_and_unlocks_a_thread(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, _ = start_thread(ledger, world.circle, world.alice)
    lock = ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC, "Derailed",
                           thread_id=thread_id, actor_id=world.org_moderator).id
    assert ledger.get(Thread, thread_id).locked is True
    assert ledger.get(ModerationDecision, lock).affected_person_ids == (world.alice,)
    ledger.moderate(world.circle, Action.UNLOCK_THREAD, ReasonCode.OTHER, "Back on track",
                    thread_id=thread_id, actor_id=world.community_moderator)
    assert ledger.get(Thread, thread_id).locked is False


# --- appeals ---------------------------------------------------------------------------------
def test_only_the_affected_author_can_appeal(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    for bystander in (world.alice, world.rep, world.org_moderator):
        with refused(ledger, NotAffectedAuthor):
            appeal(ledger, decision, bystander)
    appeal(ledger, decision, world.bob)
    assert ledger.get(ModerationDecision, decision).appellant_id == world.bob


def test_a_decision_is_appealed_once(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    appeal(ledger, decision, world.bob)
    with refused(ledger, AppealAlreadyLodged):
        appeal(ledger, decision, world.bob)


def test_a_lifting_decision_cannot_be_appealed(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.bob)
    moderate = ledger.moderate
    steps = (
        (Action.HIDE_POST, Action.RESTORE_POST, {"post_ids": [opening]}),
        (Action.LOCK_THREAD, Action.UNLOCK_THREAD, {"thread_id": thread_id}),
        (Action.SUSPEND_MEMBER, Action.REINSTATE_MEMBER, {"member_id": world.bob}),
    )
    for restrict, lift, target in steps:
        moderate(world.circle, restrict, ReasonCode.OTHER, "First",
                 actor_id=world.org_moderator, **target)  # type: ignore[arg-type]
        lifted = moderate(world.circle, lift, ReasonCode.OTHER, "Lifted",
                          actor_id=world.org_moderator, **target).id  # type: ignore[arg-type]
        with refused(ledger, AppealNotPossible, lift):
            appeal(ledger, lifted, world.bob)


def test_a_moderator_cannot_decide_an_appeal_against_their_own_decision(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude, world.org_moderator)
    appeal(ledger, decision, world.bob)
    with refused(ledger, CannotReviewOwnDecision):
        ledger.decide_appeal(decision, AppealOutcome.REVERSED, "On reflection",
                             actor_id=world.org_moderator)
    assert ledger.get(Post, rude).moderation is ModerationState.REMOVED


def test_only_a_moderator_decides_an_appeal(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    appeal(ledger, decision, world.bob)
    for reviewer in (world.rep, world.alice, world.bob):
        with refused(ledger, NotAModerator):
            ledger.decide_appeal(decision, AppealOutcome.REVERSED, "Fine", actor_id=reviewer)


def test_an_appeal_must_be_lodged_before_it_is_decided(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    with refused(ledger, NoAppealLodged):
        ledger.decide_appeal(decision, AppealOutcome.UPHELD, "Nothing to review",
                             actor_id=world.org_moderator)


def test_an_upheld_removal_keeps_the_post_removed_and_is_final(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    appeal(ledger, decision, world.bob)
    ledger.decide_appeal(decision, AppealOutcome.UPHELD, "Clear insult",
                         actor_id=world.org_moderator)
    assert ledger.get(ModerationDecision, decision).appeal_outcome is AppealOutcome.UPHELD
    assert ledger.get(Post, rude).moderation is ModerationState.REMOVED
    with refused(ledger, AppealAlreadyDecided):
        ledger.decide_appeal(decision, AppealOutcome.REVERSED, "Second thoughts",
                             actor_id=world.org_moderator)


@pytest.mark.parametrize("action", [Action.REMOVE_POST, Action.HIDE_POST])
def test_a_reversal_restores_the_post_and_it_can_be_replied_to_again(
        ledger: DialogueLedger, action: Action) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude, action=action)
    appeal(ledger, decision, world.bob)
    ledger.decide_appeal(decision, AppealOutcome.REVERSED, "Banter, not abuse",
                         actor_id=world.org_moderator)
    restored = ledger.get(Post, rude)
    assert (restored.moderation, restored.is_publicly_visible) == (None, True)
    assert ledger.get(ModerationDecision, decision).appeal_outcome is AppealOutcome.REVERSED
    answer = ledger.reply(rude, "Fair enough", actor_id=world.alice).id
    assert ledger.get(Post, answer).parent_id == rude


def test_a_reversed_lock_unlocks_the_thread(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    lock = ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC, "Derailed",
                           thread_id=thread_id, actor_id=world.community_moderator).id
    appeal(ledger, lock, world.alice)
    ledger.decide_appeal(lock, AppealOutcome.REVERSED, "It was on topic",
                         actor_id=world.org_moderator)
    assert ledger.get(Thread, thread_id).locked is False
    ledger.reply(opening, "Thanks for reopening", actor_id=world.bob)


def test_a_suspension_reversed_on_appeal_reinstates_the_member(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    suspension = ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.SPAM,
                                 "Advertising", member_id=world.carol,
                                 actor_id=world.org_moderator).id
    assert ledger.get(ModerationDecision, suspension).affected_person_ids == (world.carol,)
    assert membership(ledger, world.circle, world.carol).status is Status.SUSPENDED
    appeal(ledger, suspension, world.carol)  # a suspended member can still appeal
    ledger.decide_appeal(suspension, AppealOutcome.REVERSED, "A one-off mention",
                         actor_id=world.community_moderator)
    assert membership(ledger, world.circle, world.carol).status is Status.ACTIVE
    start_thread(ledger, world.circle, world.carol, "I'm back")


def test_the_author_is_notified_by_a_moderator(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    decision = remove(ledger, world, rude)
    with refused(ledger, NotAModerator):
        ledger.notify_author(decision, "Your post was removed", actor_id=world.alice)
    ledger.notify_author(decision, "Your post was removed", actor_id=world.org_moderator)
    assert ledger.get(ModerationDecision, decision).author_notified is True


# --- regressions (bugs these tests found, since fixed) ---------------------------------------
def test_reversing_an_earlier_hide_does_not_undo_a_later_removal(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, rude = rude_reply(ledger, world)
    hide = remove(ledger, world, rude, world.community_moderator, action=Action.HIDE_POST)
    appeal(ledger, hide, world.bob)
    remove(ledger, world, rude, world.org_moderator)  # a second, separate decision
    ledger.decide_appeal(hide, AppealOutcome.REVERSED, "Hiding was too quick",
                         actor_id=world.org_moderator)
    assert ledger.get(Post, rude).moderation is ModerationState.REMOVED
    with refused(ledger, CannotReplyToRemovedPost):
        ledger.reply(rude, "Still gone?", actor_id=world.alice)


def test_reversing_an_earlier_lock_does_not_undo_a_later_one(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, _ = start_thread(ledger, world.circle, world.alice)
    first = ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC, "Pause",
                            thread_id=thread_id, actor_id=world.community_moderator).id
    appeal(ledger, first, world.alice)
    ledger.moderate(world.circle, Action.UNLOCK_THREAD, ReasonCode.OTHER, "Resume",
                    thread_id=thread_id, actor_id=world.org_moderator)
    ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.HARASSMENT, "Flame war",
                    thread_id=thread_id, actor_id=world.org_moderator)
    ledger.decide_appeal(first, AppealOutcome.REVERSED, "The first lock was wrong",
                         actor_id=world.org_moderator)
    assert ledger.get(Thread, thread_id).locked is True


def test_reversing_an_earlier_suspension_does_not_undo_a_later_one(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    first = ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.SPAM, "Ads",
                            member_id=world.carol, actor_id=world.community_moderator).id
    appeal(ledger, first, world.carol)
    ledger.moderate(world.circle, Action.REINSTATE_MEMBER, ReasonCode.OTHER, "Served",
                    member_id=world.carol, actor_id=world.org_moderator)
    ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.HARASSMENT, "Threats",
                    member_id=world.carol, actor_id=world.org_moderator)
    ledger.decide_appeal(first, AppealOutcome.REVERSED, "The ads were allowed",
                         actor_id=world.org_moderator)
    assert membership(ledger, world.circle, world.carol).status is Status.SUSPENDED


def test_a_moderator_cannot_decide_their_own_appeal(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    own = ledger.reply(opening, "A heated reply", actor_id=world.community_moderator).id
    decision = remove(ledger, world, own, world.org_moderator)
    appeal(ledger, decision, world.community_moderator)
    with refused(ledger, CannotReviewOwnDecision):
        ledger.decide_appeal(decision, AppealOutcome.REVERSED, "My post was fine",
                             actor_id=world.community_moderator)
    assert ledger.get(Post, own).moderation is ModerationState.REMOVED
