"""Parameters and responses shared by the routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query

from api.schemas import ProblemOut
from api.services import Principal, Services, principal, services
from ledger.application import Receipt
from ledger.errors import LedgerError, NotFound

Svc = Annotated[Services, Depends(services)]
Who = Annotated[Principal, Depends(principal)]
def scoped(who: Principal, key: str | None) -> str | None:
    """An Idempotency-Key is the client's: two people may use the same one."""
    return None if key is None else f"api:{who.person_id}:{key}"


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200,
    description="a client-chosen key: a retry with the same key gets the same answer and "
                "records nothing twice")]
MinPosition = Annotated[int | None, Query(
    ge=0, le=2**62, description="read-your-writes: answer only once the views have reached "
                                "this ledger position (a command's `position`)")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
After = Annotated[str | None, Query(min_length=1, max_length=500,
                                    description="the `next` cursor of the previous page")]
Ref = Annotated[str, "an id, or a slug or handle"]

_PROBLEM: dict[str, Any] = {"model": ProblemOut, "content": {"application/problem+json": {}}}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified (If-None-Match)"},
    401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM}
COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _PROBLEM, 401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM,
    413: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM}


def community_id(svc: Services, ref: str) -> UUID:
    """A community's id from its id or slug (which never change, so each is looked up
    once)."""
    known = svc.community_refs.get(ref)
    if known is not None:
        return known
    try:
        found = svc.ledger.community_id(ref)
    except NotFound:
        raise NotFound("no such community") from None
    if len(svc.community_refs) > 10_000:
        svc.community_refs.clear()
    svc.community_refs[ref] = found
    return found


def community_of(svc: Services, cls: type[Any], aggregate_id: UUID) -> tuple[Any, UUID]:
    """A community-scoped aggregate and its community's id."""
    aggregate = svc.ledger.get(cls, aggregate_id)
    community: UUID = aggregate.community_id
    return aggregate, community



def guarded(svc: Services, who: Principal, cls: type[Any], aggregate_id: UUID,
            run: Callable[[], Receipt]) -> Receipt:
    """Run a command on a community-scoped aggregate. The command's own rules decide who may
    act (an outsider is not a member); if it fails for someone who cannot see the community,
    the answer is 404, as if nothing were there, so outsiders learn nothing. Checking only on
    failure keeps the common path to the command's own reads."""
    try:
        return run()
    except LedgerError:
        visible(svc, who, cls, aggregate_id)
        raise


def visible(svc: Services, who: Principal, cls: type[Any], aggregate_id: UUID) -> None:
    """Check that a community-scoped aggregate exists and the principal may see its
    community (404 otherwise, as if absent)."""
    from api.services import visible_community

    community = svc.communities_of.get(aggregate_id)
    if community is None:  # a thread, post, ... never moves to another community
        community = svc.ledger.get(cls, aggregate_id).community_id
        if len(svc.communities_of) > 100_000:
            svc.communities_of.clear()
        svc.communities_of[aggregate_id] = community
    try:
        visible_community(svc, who, community)
    except NotFound:
        raise NotFound(f"no such {cls.__name__.lower()}", id=aggregate_id) from None
