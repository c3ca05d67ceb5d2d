"""A person's standing in one community: nominated, invited, active, left or suspended,
and the roles they hold there."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, Side, deterministic_id
from ledger.errors import (
    AlreadyMember,
    AlreadyNominated,
    AuditorsCannotWrite,
    InvalidInput,
    MembershipNotActive,
    MembershipNotSuspended,
    MemberSuspended,
    NoPendingInvitation,
    NotAMember,
    NotAModerator,
    NotARepresentative,
    RoleConflict,
)


class Status(StrEnum):
    OUTSIDE = "outside"
    ACTIVE = "active"
    LEFT = "left"
    SUSPENDED = "suspended"


class Role(StrEnum):
    MEMBER = "member"
    REPRESENTATIVE = "representative"
    MODERATOR = "moderator"
    AUDITOR = "auditor"


class JoinedVia(StrEnum):
    FOUNDING = "founding"
    OPEN = "open"
    NOMINATION = "nomination"
    DIRECT_INVITATION = "direct-invitation"
    APPOINTMENT = "appointment"


def can_see_community(is_invitation_only: bool, membership: Membership | None, *,
                      invited: bool = False) -> bool:
    """Whether a person sees a community (knows it and what is in it): everyone sees an open
    one; an invitation-only one, its active and suspended members (with ``invited``, also
    those with a pending invitation, to answer it). Whoever does not see a community is
    answered about it, and about anything in it, exactly as about something that does not
    exist. The one rule the API (``api/services.py``) and the commands both apply."""
    if not is_invitation_only:
        return True
    if membership is None:
        return False
    return membership.status in (Status.ACTIVE, Status.SUSPENDED) or (
        invited and membership.invitation is not None)


class Membership(Aggregate):
    """One per (community, person); its id is derived from both, so it is found by key."""

    @staticmethod
    def create_id(community_id: UUID, person_id: UUID) -> UUID:
        return deterministic_id("membership", community_id, person_id)

    @event("Started")
    def __init__(self, community_id: UUID, person_id: UUID, act: Act) -> None:
        self.community_id = community_id
        self.person_id = person_id
        self.status = Status.OUTSIDE
        self.roles: set[Role] = set()
        self.moderator_side: Side | None = None
        self.open_nomination_id: UUID | None = None
        self.invitation: JoinedVia | None = None
        self.invitation_nomination_id: UUID | None = None
        self.suspension_decision_id: UUID | None = None

    # --- joining and leaving ---------------------------------------------------------
    @event("Joined")
    def join(self, via: JoinedVia, roles: tuple[Role, ...], act: Act) -> None:
        if self.status in (Status.ACTIVE, Status.SUSPENDED):
            raise AlreadyMember("already a member of this community", person_id=self.person_id)
        self.status = Status.ACTIVE
        self.roles = set(roles) or {Role.MEMBER}
        self.invitation = None
        self.invitation_nomination_id = None

    @event("Left")
    def leave(self, act: Act) -> None:
        if self.status is not Status.ACTIVE:
            raise MembershipNotActive("only an active member can leave", person_id=self.person_id)
        self.status = Status.LEFT
        self.roles = set()
        self.moderator_side = None

    # --- admission by dialogue ---------------------------------------------------------
    @event("Nominated")
    def nominated(self, nomination_id: UUID, act: Act) -> None:
        self.check_is_outside()
        if self.open_nomination_id is not None:
            raise AlreadyNominated(
                "this person already has an open nomination",
                nomination_id=self.open_nomination_id,
            )
        if self.invitation is not None:
            raise AlreadyNominated("this person already has a pending invitation")
        self.open_nomination_id = nomination_id

    @event("NominationClosed")
    def nomination_closed(self, nomination_id: UUID, outcome: str, act: Act) -> None:
        self.open_nomination_id = None

    @event("Invited")
    def invite(self, via: JoinedVia, nomination_id: UUID | None, act: Act) -> None:
        self.check_is_outside()
        if self.invitation is not None:
            raise AlreadyNominated("this person already has a pending invitation")
        if self.open_nomination_id not in (None, nomination_id):
            raise AlreadyNominated("this person has an open nomination; let it be decided",
                                   nomination_id=self.open_nomination_id)
        self.open_nomination_id = None
        self.invitation = via
        self.invitation_nomination_id = nomination_id

    @event("InvitationDeclined")
    def decline_invitation(self, act: Act) -> None:
        self.check_has_invitation(act.actor_id)
        self.invitation = None
        self.invitation_nomination_id = None

    def accept_invitation(self, act: Act) -> None:
        self.check_has_invitation(act.actor_id)
        assert self.invitation is not None
        self.join(via=self.invitation, roles=(Role.MEMBER,), act=act)

    # --- roles -------------------------------------------------------------------------
    @event("RoleGranted")
    def grant_role(self, role: Role, moderator_side: Side | None, act: Act) -> None:
        self.check_is_active()
        if role in self.roles:
            raise RoleConflict(f"already holds the role {role}", role=role)
        if role is Role.AUDITOR and self.roles - {Role.AUDITOR}:
            raise RoleConflict("an auditor holds no other role: auditors write nothing")
        if role is not Role.AUDITOR and Role.AUDITOR in self.roles:
            raise RoleConflict("an auditor holds no other role: auditors write nothing")
        if role is Role.MODERATOR and moderator_side is None:
            raise InvalidInput("a moderator's side must be recorded", field="moderator_side")
        self.roles.add(role)
        if role is Role.MODERATOR:
            self.moderator_side = moderator_side

    @event("RoleRevoked")
    def revoke_role(self, role: Role, act: Act) -> None:
        if role not in self.roles:
            raise RoleConflict(f"does not hold the role {role}", role=role)
        self.roles.discard(role)
        if role is Role.MODERATOR:
            self.moderator_side = None

    # --- moderation --------------------------------------------------------------------
    @event("Suspended")
    def suspend(self, decision_id: UUID, act: Act) -> None:
        self.check_is_active()
        self.status = Status.SUSPENDED
        self.suspension_decision_id = decision_id

    @event("Reinstated")
    def reinstate(self, decision_id: UUID, act: Act) -> None:
        if self.status is not Status.SUSPENDED:
            raise MembershipNotSuspended("the member is not suspended", person_id=self.person_id)
        self.status = Status.ACTIVE
        self.suspension_decision_id = None

    # --- invariants --------------------------------------------------------------------
    def has_role(self, role: Role) -> bool:
        return self.status is Status.ACTIVE and role in self.roles

    def check_is_outside(self) -> None:
        if self.status in (Status.ACTIVE, Status.SUSPENDED):
            raise AlreadyMember("already a member of this community", person_id=self.person_id)

    def check_is_active(self) -> None:
        if self.status is not Status.ACTIVE:
            raise MembershipNotActive("the membership is not active", person_id=self.person_id)

    def check_has_invitation(self, actor_id: UUID) -> None:
        if actor_id != self.person_id:
            raise NoPendingInvitation("only the invited person can answer an invitation")
        if self.invitation is None:
            raise NoPendingInvitation("there is no pending invitation", person_id=self.person_id)

    def check_can_write(self) -> None:
        """Posting, voting, nominating: an active member who is not only an auditor."""
        if self.status is Status.SUSPENDED:
            raise MemberSuspended("a suspended member cannot take part", person_id=self.person_id)
        if self.status is not Status.ACTIVE:
            raise NotAMember("only members of this community can take part",
                             person_id=self.person_id)
        if Role.AUDITOR in self.roles:
            raise AuditorsCannotWrite("auditors read everything and write nothing")

    def check_can_leave(self) -> None:
        """Leaving is a member's own act: an appointed auditor writes nothing, leaving
        included (a representative revokes the appointment)."""
        if self.status is not Status.ACTIVE:
            raise MembershipNotActive("only an active member can leave", person_id=self.person_id)
        if Role.AUDITOR in self.roles:
            raise AuditorsCannotWrite("auditors read everything and write nothing")

    def check_is_moderator(self) -> None:
        if not self.has_role(Role.MODERATOR):
            raise NotAModerator("only this community's moderators can moderate",
                                person_id=self.person_id)

    def check_is_representative(self) -> None:
        if not self.has_role(Role.REPRESENTATIVE):
            raise NotARepresentative(
                "only the organisation's representatives in this community can do this",
                person_id=self.person_id,
            )
