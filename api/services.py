"""What the HTTP layer works with: the ledger, its views, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fastapi import Request

from api.problems import Problem
from api.tokens import ApiToken, TokenRole, find_token
from ledger.application import DialogueLedger
from ledger.domain import Community, Membership, Status
from ledger.errors import NotFound
from projections.queries import ViewReader
from projections.report import ListeningReport
from projections.runner import Projector


@dataclass
class Services:
    ledger: DialogueLedger
    projector: Projector
    reader: ViewReader
    report: ListeningReport
    #: Seconds a read waits for the views to reach a requested ``min_position``.
    freshness_timeout: float = 5.0


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@dataclass(frozen=True)
class Principal:
    """The person a request acts for, and the role their token carries."""

    person_id: UUID
    role: TokenRole
    token_id: UUID

    @property
    def is_auditor(self) -> bool:
        return self.role is TokenRole.AUDITOR


def principal(request: Request) -> Principal:
    """The bearer token's person; 401 without a valid token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    record: ApiToken | None = None
    if scheme.lower() == "bearer" and token.strip():
        record = find_token(services(request).ledger, token.strip())
    if record is None:
        raise Problem(401, "unauthorised", "a valid bearer token is required",
                      headers={"WWW-Authenticate": 'Bearer realm="dialogue-ledger"'})
    return Principal(person_id=record.person_id, role=record.role, token_id=record.id)


# --- the access matrix (docs/api.md) ------------------------------------------------------
def require_writer(who: Principal) -> None:
    if who.is_auditor:
        raise Problem(403, "auditors-cannot-write", "auditors read everything and write nothing")


def require_role(who: Principal, *roles: TokenRole) -> None:
    require_writer(who)
    if who.role not in roles:
        raise Problem(403, "token-role",
                      f"this needs a {' or '.join(roles)} token; this token is a {who.role}")


def visible_community(svc: Services, who: Principal, community_id: UUID,
                      *, invited: bool = False) -> Community:
    """The community, if the principal may see it. Outsiders get 404 for an invitation-only
    community, exactly as for one that does not exist; auditors see every community. With
    ``invited``, a pending invitation is enough (to answer it)."""
    community = svc.ledger.get(Community, community_id)
    if who.is_auditor or not community.is_invitation_only:
        return community
    try:
        membership = svc.ledger.get(Membership, Membership.create_id(community_id,
                                                                     who.person_id))
    except NotFound:
        membership = None
    if membership is not None and (
            membership.status in (Status.ACTIVE, Status.SUSPENDED)
            or (invited and membership.invitation is not None)):
        return community
    raise NotFound("no such community", id=community_id)


def is_moderator_of(svc: Services, who: Principal, community_id: UUID) -> bool:
    try:
        membership = svc.ledger.get(Membership, Membership.create_id(community_id,
                                                                     who.person_id))
    except NotFound:
        return False
    from ledger.domain import Role

    return membership.has_role(Role.MODERATOR)
