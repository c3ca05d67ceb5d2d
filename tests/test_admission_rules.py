"""Admission into an invitation-only community: nominations, their debate, votes and the
admission rule, invitations (by nomination or direct)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import orjson

from ledger.application import DialogueLedger
from ledger.domain import (
    Access,
    AdmissionRule,
    Choice,
    JoinedVia,
    Nomination,
    NominationStatus,
    Post,
    PostKind,
    Role,
    Status,
    Thread,
)
from ledger.errors import (
    AlreadyMember,
    AlreadyNominated,
    AlreadyVoted,
    DirectInvitationsNotAllowed,
    InvalidInput,
    NominationDeadlinePassed,
    NominationDecided,
    NominationsNotUsed,
    NominationUndecidable,
    NoPendingInvitation,
    NotAMember,
    NotARepresentative,
    NoVoteToChange,
)
from tests.conftest import Clock
from tests.scenario import (
    World,
    build_world,
    debate_thread,
    membership,
    opening_post,
    person,
    refused,
)

#: Two representatives admitting against one community voter would carry the share (2/3).
ONE_COMMUNITY_VOTE = AdmissionRule(quorum=3, threshold=0.6, min_community_votes=1,
                                   deadline_days=7, direct_invitations=True)


def nominate(ledger: DialogueLedger, world: World, nominee: UUID | None = None) -> UUID:
    return ledger.nominate(world.circle, nominee or world.outsider, "Dana ran the food bank",
                           actor_id=world.alice).id


def votes(ledger: DialogueLedger, nomination: UUID, *ballots: tuple[UUID, Choice]) -> None:
    for voter, choice in ballots:
        ledger.cast_vote(nomination, choice, f"{choice} because", actor_id=voter)


def status(ledger: DialogueLedger, nomination: UUID) -> NominationStatus:
    return ledger.get(Nomination, nomination).status


# --- nominating ------------------------------------------------------------------------------
def test_a_nomination_opens_a_debate_thread_whose_opening_post_is_the_statement(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination_id = nominate(ledger, world)
    nomination = ledger.get(Nomination, nomination_id)
    assert (nomination.nominee_id, nomination.nominator_id, nomination.status) == (
        world.outsider, world.alice, NominationStatus.OPEN)
    thread = ledger.get(Thread, debate_thread(ledger, nomination_id))
    assert (thread.nomination_id, thread.community_id, thread.kind) == (
        nomination_id, world.circle, PostKind.PROPOSAL)
    statement = ledger.get(Post, opening_post(ledger, thread.id))
    assert (statement.body, statement.author_id) == ("Dana ran the food bank", world.alice)
    assert membership(ledger, world.circle, world.outsider).open_nomination_id == nomination_id


def test_members_and_representatives_can_reply_in_the_debate_thread(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination_id = nominate(ledger, world)
    statement = opening_post(ledger, debate_thread(ledger, nomination_id))
    by_member = ledger.reply(statement, "She did, for years", actor_id=world.bob).id
    by_rep = ledger.reply(by_member, "We worked with her", actor_id=world.rep).id
    assert ledger.get(Post, by_member).for_organisation is False
    assert ledger.get(Post, by_rep).for_organisation is True
    assert ledger.get(Post, by_rep).parent_id == by_member


def test_the_nominee_cannot_speak_in_their_own_debate(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    statement = opening_post(ledger, debate_thread(ledger, nominate(ledger, world)))
    with refused(ledger, NotAMember):
        ledger.reply(statement, "Thank you!", actor_id=world.outsider)


def test_nominating_someone_already_nominated_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nominate(ledger, world)
    with refused(ledger, AlreadyNominated):
        ledger.nominate(world.circle, world.outsider, "Again", actor_id=world.bob)


def test_nominating_someone_with_a_pending_invitation_is_refused(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)
    with refused(ledger, AlreadyNominated):
        nominate(ledger, world)


def test_nominating_an_existing_member_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, AlreadyMember):
        nominate(ledger, world, world.bob)


def test_nominations_are_not_used_in_an_open_community(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NominationsNotUsed):
        ledger.nominate(world.square, world.outsider, "Welcome", actor_id=world.rep)


def test_a_non_member_cannot_nominate(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    stranger = person(ledger, "stranger")
    with refused(ledger, NotAMember):
        ledger.nominate(world.circle, stranger, "My friend", actor_id=world.outsider)


# --- voting ----------------------------------------------------------------------------------
def test_each_member_votes_once(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.bob, Choice.ADMIT))
    with refused(ledger, AlreadyVoted):
        votes(ledger, nomination, (world.bob, Choice.DECLINE))
    assert ledger.get(Nomination, nomination).ballots[world.bob].choice is Choice.ADMIT


def test_a_vote_can_be_changed_before_the_decision_and_the_change_counts(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.DECLINE))
    ledger.change_vote(nomination, Choice.DECLINE, "Heard the debate", actor_id=world.bob)
    ballot = ledger.get(Nomination, nomination).ballots[world.bob]
    assert (ballot.choice, ballot.reason) == (Choice.DECLINE, "Heard the debate")
    ledger.decide_nomination(nomination, actor_id=world.carol)
    assert status(ledger, nomination) is NominationStatus.DECLINED


def test_changing_a_vote_never_cast_is_refused(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    with refused(ledger, NoVoteToChange):
        ledger.change_vote(nomination, Choice.ADMIT, "Now yes", actor_id=world.carol)


def test_no_vote_is_cast_or_changed_once_the_nomination_is_decided(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    with refused(ledger, NominationDecided):
        votes(ledger, nomination, (world.rep, Choice.DECLINE))
    with refused(ledger, NominationDecided):
        ledger.change_vote(nomination, Choice.DECLINE, "Too late", actor_id=world.bob)
    with refused(ledger, NominationDecided):
        ledger.decide_nomination(nomination, actor_id=world.bob)


def test_no_vote_is_cast_or_changed_from_the_deadline_on(
        ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.bob, Choice.ADMIT))
    clock.advance(days=7)  # exactly the deadline
    with refused(ledger, NominationDeadlinePassed):
        votes(ledger, nomination, (world.carol, Choice.ADMIT))
    with refused(ledger, NominationDeadlinePassed):
        ledger.change_vote(nomination, Choice.DECLINE, "Late", actor_id=world.bob)


def test_a_vote_just_before_the_deadline_counts(ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    clock.advance(days=7, seconds=-1)
    votes(ledger, nomination, (world.carol, Choice.ADMIT))
    assert world.carol in ledger.get(Nomination, nomination).ballots


def test_the_nominee_cannot_vote(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    with refused(ledger, NotAMember):
        votes(ledger, nomination, (world.outsider, Choice.ADMIT))


def test_representatives_votes_are_recorded_as_the_organisations(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.ADMIT), (world.bob, Choice.ADMIT))
    ballots = ledger.get(Nomination, nomination).ballots
    assert ballots[world.rep].for_organisation is True
    assert ballots[world.bob].for_organisation is False


# --- deciding --------------------------------------------------------------------------------
def test_a_nomination_without_quorum_cannot_be_decided_before_the_deadline(
        ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT))
    clock.advance(days=6)
    with refused(ledger, NominationUndecidable):
        ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.OPEN


def test_quorum_needs_the_minimum_of_community_votes(ledger: DialogueLedger) -> None:
    world = build_world(ledger)  # quorum 3, of which 2 from the community
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.ADMIT), (world.org_moderator, Choice.ADMIT),
          (world.alice, Choice.ADMIT))
    with refused(ledger, NominationUndecidable):
        ledger.decide_nomination(nomination, actor_id=world.alice)
    votes(ledger, nomination, (world.bob, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.ADMITTED


def test_without_quorum_the_nomination_expires_at_the_deadline(
        ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT))
    clock.advance(days=7)
    ledger.decide_nomination(nomination, actor_id=world.bob)
    assert status(ledger, nomination) is NominationStatus.EXPIRED
    candidacy = membership(ledger, world.circle, world.outsider)
    assert (candidacy.status, candidacy.open_nomination_id, candidacy.invitation) == (
        Status.OUTSIDE, None, None)
    renewed = ledger.nominate(world.circle, world.outsider, "Try again", actor_id=world.bob)
    assert membership(ledger, world.circle, world.outsider).open_nomination_id == renewed.id


def test_an_admitted_nominee_is_invited_and_becomes_an_active_member_on_accepting(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.DECLINE))  # 2/3 >= 0.6
    ledger.decide_nomination(nomination, actor_id=world.carol)
    assert status(ledger, nomination) is NominationStatus.ADMITTED
    invited = membership(ledger, world.circle, world.outsider)
    assert (invited.status, invited.invitation, invited.invitation_nomination_id) == (
        Status.OUTSIDE, JoinedVia.NOMINATION, nomination)
    ledger.accept_invitation(world.circle, actor_id=world.outsider)
    member = membership(ledger, world.circle, world.outsider)
    assert (member.status, member.roles, member.invitation) == (Status.ACTIVE, {Role.MEMBER},
                                                                None)
    ledger.open_thread(world.circle, PostKind.COMMENT, "Hello", "Glad to be here",
                       actor_id=world.outsider)


def test_an_admitted_nominee_may_decline_the_invitation(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.carol)
    ledger.decline_invitation(world.circle, actor_id=world.outsider)
    declined = membership(ledger, world.circle, world.outsider)
    assert (declined.status, declined.invitation) == (Status.OUTSIDE, None)
    with refused(ledger, NoPendingInvitation):
        ledger.accept_invitation(world.circle, actor_id=world.outsider)


def test_a_declined_nominee_gets_no_invitation(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.DECLINE),
          (world.carol, Choice.DECLINE))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.DECLINED
    candidacy = membership(ledger, world.circle, world.outsider)
    assert (candidacy.invitation, candidacy.open_nomination_id) == (None, None)
    with refused(ledger, NoPendingInvitation):
        ledger.accept_invitation(world.circle, actor_id=world.outsider)


def test_a_decision_is_recorded_with_its_tally(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.DECLINE), (world.rep, Choice.ADMIT))
    receipt = ledger.decide_nomination(nomination, actor_id=world.alice)
    decided = [orjson.loads(n.state)
               for n in ledger.recorder.select_notifications(start=1, limit=1000)
               if n.topic.endswith(":Nomination.Decided")]
    assert [(d["outcome"], d["votes_cast"], d["admit_votes"]) for d in decided] == [
        ("admitted", 4, 3)]
    assert receipt.id == nomination


def test_representatives_cannot_admit_against_every_community_voter(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=ONE_COMMUNITY_VOTE)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.ADMIT), (world.org_moderator, Choice.ADMIT),
          (world.alice, Choice.DECLINE))  # 2/3 admit, but no community voter admits
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.DECLINED
    assert membership(ledger, world.circle, world.outsider).invitation is None


def test_representatives_cannot_decline_against_every_community_voter(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=ONE_COMMUNITY_VOTE)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.DECLINE),
          (world.org_moderator, Choice.DECLINE), (world.alice, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.ADMITTED


def test_representatives_votes_count_when_the_community_is_divided(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=ONE_COMMUNITY_VOTE)
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.ADMIT), (world.org_moderator, Choice.ADMIT),
          (world.alice, Choice.ADMIT), (world.bob, Choice.DECLINE))  # 3/4, community split
    ledger.decide_nomination(nomination, actor_id=world.bob)
    assert status(ledger, nomination) is NominationStatus.ADMITTED


def test_the_rule_in_force_when_nominated_decides(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    ledger.change_admission_rule(world.circle, AdmissionRule(quorum=1, min_community_votes=1),
                                 actor_id=world.rep)
    votes(ledger, nomination, (world.alice, Choice.ADMIT))
    with refused(ledger, NominationUndecidable):
        ledger.decide_nomination(nomination, actor_id=world.alice)


# --- the rule itself -------------------------------------------------------------------------
def test_only_a_representative_changes_the_admission_rule(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotARepresentative):
        ledger.change_admission_rule(world.circle, AdmissionRule(quorum=1,
                                                                 min_community_votes=1),
                                     actor_id=world.community_moderator)


def test_an_impossible_admission_rule_is_invalid_input(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    for rule in (AdmissionRule(quorum=0), AdmissionRule(threshold=0.0),
                 AdmissionRule(quorum=2, min_community_votes=3),
                 AdmissionRule(deadline_days=0)):
        with refused(ledger, InvalidInput):
            ledger.change_admission_rule(world.circle, rule, actor_id=world.rep)


# --- direct invitations ----------------------------------------------------------------------
def test_direct_invitations_are_refused_where_the_rule_forbids_them(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=AdmissionRule(direct_invitations=False))
    with refused(ledger, DirectInvitationsNotAllowed):
        ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)


def test_a_community_created_with_the_default_rule_refuses_direct_invitations(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    closed = ledger.create_community(world.org, "Board", "board",
                                     access=Access.INVITATION_ONLY, actor_id=world.rep).id
    with refused(ledger, DirectInvitationsNotAllowed):
        ledger.invite_directly(closed, world.outsider, actor_id=world.rep)


def test_a_direct_invitation_is_recorded_as_such_where_allowed(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    before = ledger.position
    ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)
    assert membership(ledger, world.circle, world.outsider).invitation \
        is JoinedVia.DIRECT_INVITATION
    ledger.accept_invitation(world.circle, actor_id=world.outsider)
    recorded = {n.topic.rsplit(".", 1)[-1]: orjson.loads(n.state)
                for n in ledger.recorder.select_notifications(start=before + 1, limit=100)}
    assert recorded["Invited"]["via"] == "direct-invitation"
    assert recorded["Invited"]["nomination_id"] is None
    assert recorded["Joined"]["via"] == "direct-invitation"
    assert membership(ledger, world.circle, world.outsider).status is Status.ACTIVE


def test_only_a_representative_invites_directly(ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    with refused(ledger, NotARepresentative):
        ledger.invite_directly(world.circle, world.outsider,
                               actor_id=world.community_moderator)


# --- regressions (bugs these tests found, since fixed) ---------------------------------------
def test_no_direct_invitation_over_an_open_nomination_which_stays_decidable(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    with refused(ledger, AlreadyNominated):
        ledger.invite_directly(world.circle, world.outsider, actor_id=world.rep)
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.bob, Choice.ADMIT),
          (world.carol, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.ADMITTED
    assert membership(ledger, world.circle, world.outsider).invitation is JoinedVia.NOMINATION
    ledger.accept_invitation(world.circle, actor_id=world.outsider)
    assert membership(ledger, world.circle, world.outsider).status is Status.ACTIVE


def test_a_nomination_cannot_be_expired_early_by_dating_the_decision_in_the_future(
        ledger: DialogueLedger, clock: Clock) -> None:
    world = build_world(ledger)
    nomination = nominate(ledger, world)
    with refused(ledger, InvalidInput):
        ledger.decide_nomination(nomination, actor_id=world.alice,
                                 occurred_at=clock.now + timedelta(days=8))
    assert status(ledger, nomination) is NominationStatus.OPEN
    with refused(ledger, NominationUndecidable):  # a little clock skew is tolerated
        ledger.decide_nomination(nomination, actor_id=world.alice,
                                 occurred_at=clock.now + timedelta(minutes=1))


def test_an_organisation_representative_always_votes_for_the_organisation(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=ONE_COMMUNITY_VOTE)
    rep3 = person(ledger, "rep3")
    ledger.appoint_representative(world.org, rep3, actor_id=world.rep)
    ledger.invite_directly(world.circle, rep3, actor_id=world.rep)
    ledger.accept_invitation(world.circle, actor_id=rep3)  # a member without the role
    nomination = nominate(ledger, world)
    votes(ledger, nomination, (world.rep, Choice.ADMIT), (rep3, Choice.ADMIT),
          (world.alice, Choice.DECLINE))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.DECLINED


def test_a_former_member_admitted_by_nomination_is_invited_again(
        ledger: DialogueLedger) -> None:
    world = build_world(ledger, rule=AdmissionRule(direct_invitations=False))
    ledger.leave_community(world.circle, actor_id=world.bob)
    nomination = ledger.nominate(world.circle, world.bob, "Bob should come back",
                                 actor_id=world.alice).id
    votes(ledger, nomination, (world.alice, Choice.ADMIT), (world.carol, Choice.ADMIT),
          (world.community_moderator, Choice.ADMIT))
    ledger.decide_nomination(nomination, actor_id=world.alice)
    assert status(ledger, nomination) is NominationStatus.ADMITTED
    assert membership(ledger, world.circle, world.bob).invitation is JoinedVia.NOMINATION
    ledger.accept_invitation(world.circle, actor_id=world.bob)
    assert membership(ledger, world.circle, world.bob).status is Status.ACTIVE
