"""Who may take part in a community: joining, leaving, suspension, auditors, roles, and the
slugs and handles by which communities and people are found."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.domain import (
    Access,
    Action,
    AdmissionRule,
    Choice,
    JoinedVia,
    Post,
    PostKind,
    ReasonCode,
    Role,
    Side,
    Status,
    Thread,
)
from ledger.errors import (
    AlreadyMember,
    AuditorsCannotWrite,
    HandleTaken,
    InvalidInput,
    InvitationRequired,
    MembershipNotActive,
    MembershipNotSuspended,
    MemberSuspended,
    NoPendingInvitation,
    NotAMember,
    NotAModerator,
    NotARepresentative,
    NotFound,
    RoleConflict,
    SlugTaken,
)
from tests.conftest import Clock
from tests.scenario import build_world, membership, refused, start_thread


def streams(ledger: DialogueLedger) -> dict[UUID, list[tuple[int, str, dict[str, Any]]]]:
    """Each aggregate's events (version, topic, state but the recording time)."""
    found: dict[UUID, list[tuple[int, str, dict[str, Any]]]] = {}
    for n in ledger.recorder.select_notifications(start=1, limit=1000):
        state = orjson.loads(n.state)
        del state["timestamp"]
        found.setdefault(n.originator_id, []).append((n.originator_version, n.topic, state))
    return found


def suspend(ledger: DialogueLedger, community: UUID, member: UUID, moderator: UUID) -> UUID:
    return ledger.moderate(community, Action.SUSPEND_MEMBER, ReasonCode.HARASSMENT,
                           "Repeated insults", member_id=member, actor_id=moderator).id


# --- the standard world ------------------------------------------------------------------
def test_the_standard_world_is_exactly_what_the_commands_record(
        ledger: DialogueLedger, clock: Clock) -> None:
    rule = AdmissionRule(quorum=5, min_community_votes=3)
    world = build_world(ledger, rule=rule)
    by_commands = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    try:
        assert build_world(by_commands, rule=rule, by_commands=True) == world
        expected = streams(by_commands)
    finally:
        by_commands.close()
    assert streams(ledger) == expected
    # people, claims (cmod and omod: an m looks like rn), org, communities and their slugs,
    # memberships
    assert len(expected) == 8 + 2 + 1 + 2 + 2 + 5 + 1 + 2


# --- non-members ---------------------------------------------------------------------------
def test_a_non_member_cannot_post_into_an_invitation_only_community(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotAMember):
        ledger.open_thread(world.circle, PostKind.QUESTION, "Hello?", "Let me in",
                           actor_id=world.outsider)


def test_a_non_member_cannot_reply_in_an_invitation_only_community(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    with refused(ledger, NotAMember):
        ledger.reply(opening, "Me too", actor_id=world.outsider)


def test_a_non_member_cannot_post_into_an_open_community_without_joining(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotAMember):
        ledger.open_thread(world.square, PostKind.QUESTION, "Hello?", "Hi",
                           actor_id=world.outsider)


def test_joining_an_invitation_only_community_requires_an_invitation(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, InvitationRequired):
        ledger.join_community(world.circle, actor_id=world.outsider)


def test_anyone_can_join_an_open_community_and_then_post(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    receipt = ledger.join_community(world.square, actor_id=world.outsider)
    joined = membership(ledger, world.square, world.outsider)
    assert receipt.id == joined.id
    assert (joined.status, joined.roles) == (Status.ACTIVE, {Role.MEMBER})
    thread_id = ledger.open_thread(world.square, PostKind.CONCERN, "Noise", "Too loud",
                                   actor_id=world.outsider).id
    assert ledger.get(Thread, thread_id).opener_id == world.outsider


def test_joining_an_open_community_twice_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.alice)
    with refused(ledger, AlreadyMember):
        ledger.join_community(world.square, actor_id=world.alice)


def test_joining_needs_a_registered_person(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotFound):
        ledger.join_community(world.square, actor_id=UUID(int=42))


# --- leaving ---------------------------------------------------------------------------------
def test_a_member_who_leaves_loses_their_roles_and_can_no_longer_post(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.leave_community(world.circle, actor_id=world.community_moderator)
    left = membership(ledger, world.circle, world.community_moderator)
    assert (left.status, left.roles, left.moderator_side) == (Status.LEFT, set(), None)
    with refused(ledger, NotAMember):
        ledger.open_thread(world.circle, PostKind.COMMENT, "Back", "Hi",
                           actor_id=world.community_moderator)


def test_a_member_who_left_an_open_community_can_join_again(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.bob)
    ledger.leave_community(world.square, actor_id=world.bob)
    ledger.join_community(world.square, actor_id=world.bob)
    assert membership(ledger, world.square, world.bob).status is Status.ACTIVE


def test_a_member_who_left_an_invitation_only_community_needs_a_new_invitation(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.leave_community(world.circle, actor_id=world.bob)
    with refused(ledger, InvitationRequired):
        ledger.join_community(world.circle, actor_id=world.bob)
    ledger.invite_directly(world.circle, world.bob, actor_id=world.rep)
    ledger.accept_invitation(world.circle, actor_id=world.bob)
    assert membership(ledger, world.circle, world.bob).status is Status.ACTIVE


def test_only_an_active_member_can_leave(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, MembershipNotActive):
        ledger.leave_community(world.square, actor_id=world.outsider)
    ledger.leave_community(world.circle, actor_id=world.carol)
    with refused(ledger, MembershipNotActive):
        ledger.leave_community(world.circle, actor_id=world.carol)


# --- invitations -----------------------------------------------------------------------------
def test_a_person_with_a_pending_invitation_is_not_yet_a_member(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)
    invited = membership(ledger, world.circle, world.outsider)
    assert (invited.status, invited.invitation) == (Status.OUTSIDE,
                                                    JoinedVia.DIRECT_INVITATION)
    with refused(ledger, NotAMember):
        ledger.open_thread(world.circle, PostKind.QUESTION, "Hi", "Hello",
                           actor_id=world.outsider)


def test_only_the_invited_person_can_accept_an_invitation(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NoPendingInvitation):
        ledger.accept_invitation(world.circle, actor_id=world.outsider)
    ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)
    with refused(ledger, NoPendingInvitation):
        ledger.accept_invitation(world.circle, actor_id=world.alice)


def test_inviting_an_existing_member_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, AlreadyMember):
        ledger.invite_directly(world.circle, world.alice, actor_id=world.rep)


# --- suspension ------------------------------------------------------------------------------
def test_a_suspended_member_cannot_post_reply_edit_vote_or_nominate(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    nomination = ledger.nominate(world.circle, world.outsider, "Kind and wise",
                                 actor_id=world.bob).id
    suspend(ledger, world.circle, world.alice, world.community_moderator)
    assert membership(ledger, world.circle, world.alice).status is Status.SUSPENDED
    with refused(ledger, MemberSuspended):
        ledger.open_thread(world.circle, PostKind.COMMENT, "Again", "Hi", actor_id=world.alice)
    with refused(ledger, MemberSuspended):
        ledger.reply(opening, "Still here", actor_id=world.alice)
    with refused(ledger, MemberSuspended):
        ledger.edit_post(opening, "Edited while suspended", actor_id=world.alice)
    with refused(ledger, MemberSuspended):
        ledger.cast_vote(nomination, Choice.ADMIT, "Yes", actor_id=world.alice)
    with refused(ledger, MemberSuspended):
        ledger.nominate(world.circle, world.auditor, "Friend", actor_id=world.alice)
    assert ledger.get(Post, opening).body == "Why does the library close at five?"
    assert ledger.get(Thread, thread_id).locked is False


def test_a_suspended_member_cannot_leave_or_join_again(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.bob)
    ledger.join_community(world.square, actor_id=world.alice)
    ledger.grant_role(world.square, world.alice, Role.MODERATOR, actor_id=world.rep)
    suspend(ledger, world.square, world.bob, world.alice)
    with refused(ledger, MembershipNotActive):
        ledger.leave_community(world.square, actor_id=world.bob)
    with refused(ledger, AlreadyMember):
        ledger.join_community(world.square, actor_id=world.bob)


def test_a_reinstated_member_can_post_again(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    suspend(ledger, world.circle, world.bob, world.org_moderator)
    ledger.moderate(world.circle, Action.REINSTATE_MEMBER, ReasonCode.OTHER, "Apologised",
                    member_id=world.bob, actor_id=world.community_moderator)
    assert membership(ledger, world.circle, world.bob).status is Status.ACTIVE
    thread_id = ledger.open_thread(world.circle, PostKind.COMMENT, "Sorry", "Sorry all",
                                   actor_id=world.bob).id
    assert ledger.get(Thread, thread_id).opener_id == world.bob


def test_reinstating_a_member_who_is_not_suspended_is_refused(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, MembershipNotSuspended):
        ledger.moderate(world.circle, Action.REINSTATE_MEMBER, ReasonCode.OTHER, "Oops",
                        member_id=world.bob, actor_id=world.community_moderator)


def test_a_suspended_moderator_cannot_moderate(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    suspend(ledger, world.circle, world.community_moderator, world.org_moderator)
    with refused(ledger, NotAModerator):
        suspend(ledger, world.circle, world.bob, world.community_moderator)


# --- auditors --------------------------------------------------------------------------------
def test_an_appointed_auditor_is_an_active_member_who_holds_only_that_role(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    auditor = membership(ledger, world.circle, world.auditor)
    assert (auditor.status, auditor.roles) == (Status.ACTIVE, {Role.AUDITOR})


def test_an_auditor_cannot_post_reply_or_edit(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    with refused(ledger, AuditorsCannotWrite):
        ledger.open_thread(world.circle, PostKind.QUESTION, "Audit", "Findings",
                           actor_id=world.auditor)
    with refused(ledger, AuditorsCannotWrite):
        ledger.reply(opening, "Noted", actor_id=world.auditor)


def test_an_auditor_cannot_vote_nominate_or_call_the_decision(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = ledger.nominate(world.circle, world.outsider, "Kind", actor_id=world.bob).id
    with refused(ledger, AuditorsCannotWrite):
        ledger.cast_vote(nomination, Choice.DECLINE, "No", actor_id=world.auditor)
    with refused(ledger, AuditorsCannotWrite):
        ledger.nominate(world.circle, UUID(int=1), "Someone", actor_id=world.auditor)
    with refused(ledger, AuditorsCannotWrite):
        ledger.decide_nomination(nomination, actor_id=world.auditor)


def test_an_auditor_cannot_leave_the_community(ledger: DialogueLedger) -> None:
    """Leaving is a write: an appointed auditor leaves only when a representative revokes
    the appointment."""
    world = build_world(ledger)
    with refused(ledger, AuditorsCannotWrite):
        ledger.leave_community(world.circle, actor_id=world.auditor)
    assert membership(ledger, world.circle, world.auditor).status is Status.ACTIVE
    ledger.revoke_role(world.circle, world.auditor, Role.AUDITOR, actor_id=world.rep)
    ledger.leave_community(world.circle, actor_id=world.auditor)
    assert membership(ledger, world.circle, world.auditor).status is Status.LEFT


def test_an_auditor_cannot_be_given_another_role(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, RoleConflict):
        ledger.grant_role(world.circle, world.auditor, Role.MODERATOR, actor_id=world.rep)


def test_a_member_cannot_be_appointed_auditor(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, AlreadyMember):
        ledger.grant_role(world.circle, world.alice, Role.AUDITOR, actor_id=world.rep)


# --- roles -----------------------------------------------------------------------------------
def test_only_a_representative_grants_roles(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotARepresentative):
        ledger.grant_role(world.circle, world.bob, Role.MODERATOR,
                          actor_id=world.community_moderator)


def test_only_the_organisations_representatives_can_be_made_representatives(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotARepresentative):
        ledger.grant_role(world.circle, world.alice, Role.REPRESENTATIVE, actor_id=world.rep)


def test_granting_a_role_already_held_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, RoleConflict):
        ledger.grant_role(world.circle, world.community_moderator, Role.MODERATOR,
                          actor_id=world.rep)


def test_a_revoked_moderator_has_no_side(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    assert membership(ledger, world.circle, world.org_moderator).moderator_side \
        is Side.ORGANISATION
    ledger.revoke_role(world.circle, world.org_moderator, Role.MODERATOR, actor_id=world.rep)
    revoked = membership(ledger, world.circle, world.org_moderator)
    assert (revoked.roles, revoked.moderator_side) == ({Role.MEMBER, Role.REPRESENTATIVE},
                                                       None)


def test_only_the_organisations_representatives_create_communities(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotARepresentative):
        ledger.create_community(world.org, "Rogue", "rogue", access=Access.OPEN,
                                actor_id=world.alice)


# --- slugs and handles -----------------------------------------------------------------------
def test_community_slugs_are_unique(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, SlugTaken):
        ledger.create_community(world.org, "Another square", "square", access=Access.OPEN,
                                actor_id=world.rep)


def test_organisation_slugs_are_unique(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, SlugTaken):
        ledger.found_organisation("Northwind again", "northwind", actor_id=world.alice)


def test_handles_are_unique_whatever_their_case(ledger: DialogueLedger) -> None:
    build_world(ledger)
    with refused(ledger, HandleTaken):
        ledger.register_person("alice", "Another Alice")
    with refused(ledger, HandleTaken):
        ledger.register_person("ALICE", "Shouting Alice")


def test_a_community_is_found_by_slug_or_by_its_id(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    assert ledger.community_id("circle") == world.circle
    assert ledger.community_id(str(world.circle)) == world.circle
    assert ledger.community_id(world.square) == world.square
    assert ledger.community_id("square") == world.square


def test_a_person_is_found_by_handle_or_by_id(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    assert ledger.person_id("alice") == world.alice
    assert ledger.person_id("Alice") == world.alice
    assert ledger.person_id(str(world.bob)) == world.bob


def test_an_unknown_slug_or_id_is_not_found(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with pytest.raises(NotFound):
        ledger.community_id("nowhere")
    with pytest.raises(NotFound):
        ledger.community_id(str(world.alice))  # a person's id is not a community's


def test_a_bad_slug_is_invalid_input(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    for slug in ("Town", "a", "two  spaces", "trailing-", "-leading", "double--hyphen",
                 "under_score", "x" * 65):
        with refused(ledger, InvalidInput, slug):
            ledger.create_community(world.org, "Bad", slug, access=Access.OPEN,
                                    actor_id=world.rep)
        with refused(ledger, InvalidInput, slug):
            ledger.found_organisation("Bad", slug, actor_id=world.rep)


def test_a_bad_handle_is_invalid_input(ledger: DialogueLedger) -> None:
    for handle in ("", "two words", "slash/ed", "x" * 101):
        with refused(ledger, InvalidInput, handle):
            ledger.register_person(handle, "Someone")


def test_slugs_and_handles_that_read_as_ids_are_invalid_input(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    for id_like in ("0123456789abcdef0123456789abcdef",
                    "01234567-89ab-cdef-0123-456789abcdef", str(world.alice)):
        with refused(ledger, InvalidInput, id_like):
            ledger.create_community(world.org, "Hex", id_like, access=Access.OPEN,
                                    actor_id=world.rep)
        with refused(ledger, InvalidInput, id_like):
            ledger.register_person(id_like, "Hex")
