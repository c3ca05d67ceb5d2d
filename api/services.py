"""What the HTTP layer works with: the ledger, its views, and who is asking."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.answers import Answers, credential
from api.commands import Commands
from api.problems import Problem
from api.tokens import TokenRole, find_token, token_store
from ledger.application import DialogueLedger
from ledger.domain import Community, Membership, can_see_community
from ledger.errors import NotFound
from projections.queries import ViewReader
from projections.report import ListeningReport
from projections.runner import Projector


@dataclass
class Services:
    #: Reads of the ledger (aggregates, ids, the head) in this process.
    ledger: DialogueLedger
    #: Where commands run (``api/commands.py``): a command process of its own, or here.
    commands: Commands
    projector: Projector
    reader: ViewReader
    report: ListeningReport
    #: Seconds a read waits for the views to reach a requested ``min_position``.
    freshness_timeout: float = 5.0
    #: Tokens seen (digest → principal, the token record's version). Each request still
    #: checks its token's expiry and reads whether the record changed since (a revocation,
    #: by any process on any host), so a revoked or expired token fails on its next request.
    tokens: dict[str, tuple[Principal, int]] = field(default_factory=dict)
    #: Who was recently found to see which community ((community, person, invited) →
    #: (community, expiry)), so that reads do not reload the same aggregates each time.
    visibility_ttl: float = 2.0
    visibility: dict[tuple[UUID, UUID, bool], tuple[Community, float]] = field(
        default_factory=dict)
    #: The communities each reference (id, slug, organisation-slug:community-slug) looked
    #: up so far may name, until when (``api/routes/common.py``).
    community_refs: dict[str, tuple[tuple[UUID, ...], float]] = field(default_factory=dict)
    #: The community of each thread, post, nomination, ... looked up so far, by
    #: (class name, id): an aggregate never changes class or community.
    communities_of: dict[tuple[str, UUID], UUID] = field(default_factory=dict)
    #: Finished view bodies by (what, live position): recomputed only after a change.
    views: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = field(
        default_factory=OrderedDict)
    #: Finished answers to repeated view requests (``api/answers.py``).
    answers: Answers = field(default_factory=Answers)
    #: View bodies being built (in the thread pool) by the same keys.
    building: dict[tuple[Any, ...], asyncio.Future[tuple[bytes, str]]] = field(
        default_factory=dict)


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@dataclass(frozen=True)
class Principal:
    """The person a request acts for, and the role their token carries."""

    person_id: UUID
    role: TokenRole
    token_id: UUID
    expires_at: datetime | None = None

    @property
    def is_auditor(self) -> bool:
        return self.role is TokenRole.AUDITOR


async def principal(request: Request) -> Principal:
    """The bearer token's person; 401 without a valid token."""
    header = request.headers.get("authorization", "")
    digest = credential(header)
    if digest is None:
        raise _unauthorised()
    who = await current_principal(request.app.state.services, header, digest)
    if who is None:
        raise _unauthorised()
    return who


async def current_principal(svc: Services, authorization: str, digest: str,
                            ) -> Principal | None:
    """The principal of a bearer token (``authorization``, its ``digest``) if the token is
    live now, else None. A token seen before costs an expiry check and one primary-key read
    of its events after the version seen (a revocation); on a SQLite file that read (a few
    µs, on a read-only connection of its own that never waits for a writer) is made right
    here, on PostgreSQL in the thread pool. A token not seen before is looked up."""
    known = svc.tokens.get(digest)
    if known is not None:
        who, version = known
        if who.expires_at is not None and svc.ledger.clock() >= who.expires_at:
            svc.tokens.pop(digest, None)
            return None
        store = token_store(svc.ledger)
        if store.inline:
            changed = store.changed_since(who.token_id, version)
        else:
            changed = await run_in_threadpool(store.changed_since, who.token_id, version)
        if not changed:
            return who
        svc.tokens.pop(digest, None)
    token = authorization.partition(" ")[2].strip()
    record = await run_in_threadpool(find_token, svc.ledger, token)
    if record is None:
        return None
    who = Principal(person_id=record.person_id, role=record.role, token_id=record.id,
                    expires_at=record.expires_at)
    if len(svc.tokens) > 10_000:
        svc.tokens.clear()
    svc.tokens[digest] = (who, record.version)
    return who


def _unauthorised() -> Problem:
    return Problem(401, "unauthorised", "a valid bearer token is required",
                   headers={"WWW-Authenticate": 'Bearer realm="dialogue-ledger"'})


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
    known = known_visible_community(svc, who, community_id, invited=invited)
    if known is not None:
        return known
    key = (community_id, who.person_id, invited)
    community = _visible_community(svc, who, community_id, invited=invited)
    if len(svc.visibility) > 10_000:
        svc.visibility.clear()
    svc.visibility[key] = (community, time.monotonic() + svc.visibility_ttl)
    return community


def known_visible_community(svc: Services, who: Principal, community_id: UUID,
                            *, invited: bool = False) -> Community | None:
    """The community if it was found visible to the principal less than
    ``visibility_ttl`` seconds ago (and nothing was recorded here since); None if that is
    not known (not that it is invisible): from memory only, so it may run on the event
    loop."""
    known = svc.visibility.get((community_id, who.person_id, invited))
    if known is not None and known[1] > time.monotonic():
        return known[0]
    return None


async def seen_community(svc: Services, who: Principal, community_id: UUID,
                         *, invited: bool = False) -> Community:
    """:func:`visible_community` for ``async`` endpoints: from memory when known, else in
    the thread pool (it loads aggregates), so the event loop never waits on the store."""
    known = known_visible_community(svc, who, community_id, invited=invited)
    if known is not None:
        return known
    community: Community = await run_in_threadpool(
        lambda: visible_community(svc, who, community_id, invited=invited))
    return community


def _visible_community(svc: Services, who: Principal, community_id: UUID,
                       *, invited: bool) -> Community:
    community = svc.ledger.get(Community, community_id)
    if who.is_auditor or not community.is_invitation_only:
        return community
    try:
        membership = svc.ledger.get(Membership, Membership.create_id(community_id,
                                                                     who.person_id))
    except NotFound:
        membership = None
    if can_see_community(community.is_invitation_only, membership, invited=invited):
        return community
    raise NotFound("no such community")


def is_moderator_of(svc: Services, who: Principal, community_id: UUID) -> bool:
    try:
        membership = svc.ledger.get(Membership, Membership.create_id(community_id,
                                                                     who.person_id))
    except NotFound:
        return False
    from ledger.domain import Role

    return membership.has_role(Role.MODERATOR)
