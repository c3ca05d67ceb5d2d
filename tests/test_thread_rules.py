"""Threads and posts: opening, replying, locked threads, removed and retracted posts, and
the author's edits and retractions."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.application import DialogueLedger
from ledger.domain import Action, ModerationState, Post, PostKind, ReasonCode, Thread
from ledger.errors import (
    CannotReplyToRemovedPost,
    InvalidInput,
    NotFound,
    NotTheAuthor,
    PostAlreadyRetracted,
    PostNotEditable,
    ThreadLocked,
)
from tests.conftest import Clock
from tests.scenario import World, build_world, refused, start_thread


def lock(ledger: DialogueLedger, world: World, thread_id: UUID) -> UUID:
    return ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC,
                           "Cooling off", thread_id=thread_id,
                           actor_id=world.community_moderator).id


def moderate_post(ledger: DialogueLedger, world: World, action: Action, post_id: UUID) -> UUID:
    return ledger.moderate(world.circle, action, ReasonCode.HARASSMENT, "Insults",
                           post_ids=[post_id], actor_id=world.org_moderator).id


# --- opening and replying --------------------------------------------------------------------
def test_a_thread_opens_with_its_opening_post(ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    thread = ledger.get(Thread, thread_id)
    assert (thread.community_id, thread.kind, thread.title, thread.opener_id, thread.locked,
            thread.nomination_id) == (world.circle, PostKind.QUESTION, "Opening hours",
                                      world.alice, False, None)
    post = ledger.get(Post, opening)
    assert (post.thread_id, post.parent_id, post.author_id, post.kind, post.for_organisation,
            post.body) == (thread_id, None, world.alice, PostKind.QUESTION, False,
                           "Why does the library close at five?")
    assert post.versions[0].occurred_at == clock.now


def test_a_reply_records_its_parent_thread_and_voice(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    answer = ledger.reply(opening, "Staffing", actor_id=world.rep).id
    follow_up = ledger.reply(answer, "Hire more?", actor_id=world.bob,
                             kind=PostKind.PROPOSAL).id
    answer_post, follow_up_post = ledger.get(Post, answer), ledger.get(Post, follow_up)
    assert (answer_post.parent_id, answer_post.thread_id, answer_post.for_organisation,
            answer_post.kind) == (opening, thread_id, True, PostKind.COMMENT)
    assert (follow_up_post.parent_id, follow_up_post.for_organisation,
            follow_up_post.kind) == (answer, False, PostKind.PROPOSAL)


def test_replying_to_an_unknown_post_is_not_found(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotFound):
        ledger.reply(world.circle, "To a community?", actor_id=world.alice)


def test_an_empty_or_overlong_body_or_one_with_a_nul_is_invalid_input(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    for body in ("", "   ", "x" * 20_001, "before\x00after"):
        with refused(ledger, InvalidInput, f"reply {body[:5]!r}"):
            ledger.reply(opening, body, actor_id=world.bob)
        with refused(ledger, InvalidInput, f"edit {body[:5]!r}"):
            ledger.edit_post(opening, body, actor_id=world.alice)
        with refused(ledger, InvalidInput, f"open {body[:5]!r}"):
            ledger.open_thread(world.circle, PostKind.QUESTION, "Title", body,
                               actor_id=world.alice)


# --- locked threads --------------------------------------------------------------------------
def test_no_reply_or_edit_in_a_locked_thread(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    reply = ledger.reply(opening, "Agreed", actor_id=world.bob).id
    lock(ledger, world, thread_id)
    assert ledger.get(Thread, thread_id).locked is True
    with refused(ledger, ThreadLocked):
        ledger.reply(opening, "One more thing", actor_id=world.carol)
    with refused(ledger, ThreadLocked):
        ledger.reply(reply, "Representatives too?", actor_id=world.rep)
    with refused(ledger, ThreadLocked):
        ledger.edit_post(opening, "Why five o'clock?", actor_id=world.alice)
    assert len(ledger.get(Post, opening).versions) == 1


def test_unlocking_a_thread_allows_replies_and_edits_again(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    lock(ledger, world, thread_id)
    ledger.moderate(world.circle, Action.UNLOCK_THREAD, ReasonCode.OTHER, "Calm again",
                    thread_id=thread_id, actor_id=world.org_moderator)
    assert ledger.get(Thread, thread_id).locked is False
    reply = ledger.reply(opening, "Thanks", actor_id=world.carol).id
    ledger.edit_post(opening, "Why five o'clock?", actor_id=world.alice)
    assert ledger.get(Post, reply).parent_id == opening
    assert ledger.get(Post, opening).body == "Why five o'clock?"


# --- removed, hidden and retracted posts -----------------------------------------------------
@pytest.mark.parametrize("action", [Action.REMOVE_POST, Action.HIDE_POST])
def test_a_removed_or_hidden_post_cannot_be_replied_to(ledger: DialogueLedger,
                                                       action: Action) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    offending = ledger.reply(opening, "You are all fools", actor_id=world.bob).id
    moderate_post(ledger, world, action, offending)
    with refused(ledger, CannotReplyToRemovedPost):
        ledger.reply(offending, "That was rude", actor_id=world.carol)
    sibling = ledger.reply(opening, "Back on topic", actor_id=world.carol).id  # thread open
    assert ledger.get(Post, sibling).parent_id == opening


def test_a_retracted_post_cannot_be_replied_to(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    hasty = ledger.reply(opening, "Hasty words", actor_id=world.bob).id
    ledger.retract_post(hasty, actor_id=world.bob)
    assert ledger.get(Post, hasty).is_publicly_visible is False
    with refused(ledger, CannotReplyToRemovedPost):
        ledger.reply(hasty, "What did you mean?", actor_id=world.carol)


def test_a_removed_post_cannot_be_edited_but_a_hidden_one_can(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    removed = ledger.reply(opening, "Rude", actor_id=world.bob).id
    hidden = ledger.reply(opening, "Borderline", actor_id=world.carol).id
    moderate_post(ledger, world, Action.REMOVE_POST, removed)
    moderate_post(ledger, world, Action.HIDE_POST, hidden)
    with refused(ledger, PostNotEditable):
        ledger.edit_post(removed, "Polite", actor_id=world.bob)
    ledger.edit_post(hidden, "Reworded", actor_id=world.carol)
    post = ledger.get(Post, hidden)
    assert (post.body, post.moderation) == ("Reworded", ModerationState.HIDDEN)


# --- the author's edits and retractions ------------------------------------------------------
def test_edits_keep_every_version_with_its_time(ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    first = clock.now
    second = clock.advance(hours=1)
    ledger.edit_post(opening, "Why at five?", actor_id=world.alice)
    third = clock.advance(days=2)
    ledger.edit_post(opening, "Why at five, on weekdays?", actor_id=world.alice)
    post = ledger.get(Post, opening)
    assert [(v.body, v.occurred_at) for v in post.versions] == [
        ("Why does the library close at five?", first),
        ("Why at five?", second),
        ("Why at five, on weekdays?", third),
    ]
    assert post.body == "Why at five, on weekdays?"


def test_only_the_author_edits_a_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    for intruder in (world.bob, world.rep, world.community_moderator):
        with refused(ledger, NotTheAuthor):
            ledger.edit_post(opening, "Rewritten by someone else", actor_id=intruder)
    assert len(ledger.get(Post, opening).versions) == 1


def test_only_the_author_retracts_a_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    with refused(ledger, NotTheAuthor):
        ledger.retract_post(opening, actor_id=world.org_moderator)
    assert ledger.get(Post, opening).retracted is False


def test_retracting_twice_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    ledger.retract_post(opening, actor_id=world.alice)
    assert ledger.get(Post, opening).retracted is True
    with refused(ledger, PostAlreadyRetracted):
        ledger.retract_post(opening, actor_id=world.alice)


def test_a_retracted_post_cannot_be_edited_and_keeps_its_text(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    ledger.retract_post(opening, actor_id=world.alice)
    with refused(ledger, PostNotEditable):
        ledger.edit_post(opening, "Changed my mind", actor_id=world.alice)
    assert ledger.get(Post, opening).body == "Why does the library close at five?"
