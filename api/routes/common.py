"""Parameters and responses shared by the routes."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from api.schemas import ProblemOut
from api.services import (
    Principal,
    Services,
    known_visible_community,
    principal,
    seen_community,
    services,
    visible_community,
)
from ledger.application import Receipt
from ledger.domain import CommandId
from ledger.errors import LedgerError, NotFound

T = TypeVar("T")
#: The Idempotency-Key: 1-200 printable ASCII characters (RFC 9110 field values are ASCII;
#: spaces inside only, as a header's own are trimmed).
MAX_KEY = 200
KEY_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"
#: The ledger's limit on a command id (``DialogueLedger._execute``).
MAX_COMMAND_ID = 200
Svc = Annotated[Services, Depends(services)]
Who = Annotated[Principal, Depends(principal)]


async def caller(request: Request) -> tuple[Services, Principal]:
    """The services and the principal, for the busiest routes: the same as ``Svc`` and
    ``Who``, without two dependencies for FastAPI to solve on every request."""
    return await services(request), await principal(request)


async def idempotency_key(request: Request, key: Annotated[str | None, Header(
        alias="Idempotency-Key", min_length=1, max_length=MAX_KEY, pattern=KEY_PATTERN,
        description="a client-chosen key of 1-200 printable ASCII characters (no leading "
                    "or trailing space): a retry with the same key and the same request "
                    "gets the same answer and records nothing twice; the same key with "
                    "another request is refused (422 idempotency-key-reused)")] = None,
        ) -> CommandId | None:
    """The Idempotency-Key, with a digest of the request it came with (method, path,
    query and body): a retry must repeat the request exactly."""
    if key is None:
        return None
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(),
                 request.url.query.encode(), await request.body()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return CommandId(key, digest.hexdigest())


def scoped(who: Principal, key: CommandId | None) -> CommandId | None:
    """An Idempotency-Key is the client's: two people may use the same one. A key too long
    to keep whole beside its holder's id within the ledger's command ids (200 characters)
    is kept as its SHA-256 digest, under a prefix no whole key can have."""
    if key is None:
        return None
    whole = f"api:{who.person_id}:{key}"
    if len(whole) <= MAX_COMMAND_ID:
        return CommandId(whole, key.request)
    digest = hashlib.sha256(key.encode()).hexdigest()
    return CommandId(f"api-sha256:{who.person_id}:{digest}", key.request)


IdempotencyKey = Annotated[CommandId | None, Depends(idempotency_key)]
#: The largest ledger position a request may name (positions are 64-bit signed integers in
#: both stores; 2**62 leaves room for ``position + 1``).
MAX_POSITION = 2**62
MinPosition = Annotated[int | None, Query(
    ge=0, le=MAX_POSITION, description="read-your-writes: answer only once the views have reached "
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


def read_responses(example: Any = None, *, content: dict[str, dict[str, Any]] | None = None,
                   base: Mapping[int | str, dict[str, Any]] = READ_RESPONSES,
                   ) -> dict[int | str, dict[str, Any]]:
    """A read's documented responses: ``base`` (READ_RESPONSES), and a 200 whose example
    ``/docs`` shows (from ``api/examples.py``). ``example`` is a JSON body; ``content`` gives
    other media types their OpenAPI media type objects (``{"example": ...}``, or named
    ``{"examples": {name: {"summary": ..., "value": ...}}}``)."""
    shown: dict[str, dict[str, Any]] = {} if example is None else {
        "application/json": {"example": example}}
    shown.update(content or {})
    return {**base, 200: {"content": shown}}


def community_id(svc: Services, ref: str, who: Principal, *, invited: bool = False) -> UUID:
    """The id of the community ``ref`` names (an id, ``organisation-slug:community-slug``,
    or a slug alone) that the principal may see (``invited``: see
    :func:`api.services.visible_community`); 404 if they may see none, exactly as for a
    reference that names nothing. A slug alone names the first created of the communities
    bearing it that they may see: those they may not see are never counted, and a community
    created later elsewhere never takes the slug from one they already see."""
    for candidate in _community_candidates(svc, ref):
        try:
            return visible_community(svc, who, candidate, invited=invited).id
        except NotFound:
            continue
    raise NotFound("no such community")


async def resolve_community(svc: Services, ref: str, who: Principal, *,
                            invited: bool = False) -> UUID:
    """:func:`community_id` for ``async`` endpoints (from memory when the reference and
    the principal's view of its community are known)."""
    known = svc.community_refs.get(ref)
    if known is not None and known[1] > time.monotonic() and \
            known_visible_community(svc, who, known[0][0], invited=invited) is not None:
        return known[0][0]
    found: UUID = await run_in_threadpool(
        lambda: community_id(svc, ref, who, invited=invited))
    return found


def _community_candidates(svc: Services, ref: str) -> tuple[UUID, ...]:
    """The communities a reference may name, first created first
    (:meth:`DialogueLedger.community_ids`). An id
    or a qualified reference names the same community for ever; a slug alone may come to
    name one more (another organisation's new community), so it is looked up again after
    ``visibility_ttl`` seconds (at once here, after a community is created here)."""
    known = svc.community_refs.get(ref)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    found = tuple(svc.ledger.community_ids(ref))
    if found:
        if len(svc.community_refs) > 10_000:
            svc.community_refs.clear()
        bare = ":" not in ref and not _is_uuid(ref)
        svc.community_refs[ref] = (
            found, time.monotonic() + svc.visibility_ttl if bare else math.inf)
    return found


def _is_uuid(ref: str) -> bool:
    try:
        UUID(ref)
    except ValueError:
        return False
    return True


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


def visible(svc: Services, who: Principal, cls: type[Any], aggregate_id: UUID) -> UUID:
    """Check that a community-scoped aggregate exists and the principal may see its
    community (404 otherwise, as if absent); its community's id."""
    community = check_exists(svc, cls, aggregate_id)
    try:
        visible_community(svc, who, community)
    except NotFound:
        raise NotFound(f"no such {cls.__name__.lower()}", id=aggregate_id) from None
    return community


def visible_each(svc: Services, who: Principal, cls: type[Any],
                 aggregate_ids: Iterable[UUID]) -> None:
    """:func:`visible` for each of the ids a command refers to (the posts a commitment
    answers, the posts or thread a moderation decision acts on): 404 ``no such post`` for
    one the principal may not see, exactly as for one that does not exist, before the
    command could answer ``wrong-community`` (which it does only for what they may see)."""
    for aggregate_id in dict.fromkeys(aggregate_ids):
        visible(svc, who, cls, aggregate_id)


def check_exists(svc: Services, cls: type[Any], aggregate_id: UUID) -> UUID:
    """That a community-scoped aggregate of this class exists (404 otherwise), and its
    community's id: loaded once, since neither ever changes."""
    community = svc.communities_of.get((cls.__name__, aggregate_id))
    if community is None:
        community = svc.ledger.get(cls, aggregate_id).community_id
        if len(svc.communities_of) > 100_000:
            svc.communities_of.clear()
        svc.communities_of[(cls.__name__, aggregate_id)] = community
    return community


async def check_visible(svc: Services, who: Principal, cls: type[Any],
                        aggregate_id: UUID) -> UUID:
    """:func:`visible` for ``async`` endpoints: answered from memory when the aggregate's
    community and the principal's view of it are known, else in the thread pool."""
    community = svc.communities_of.get((cls.__name__, aggregate_id))
    if community is not None and known_visible_community(svc, who, community) is not None:
        return community
    found: UUID = await run_in_threadpool(visible, svc, who, cls, aggregate_id)
    return found


async def seen_community_of(svc: Services, who: Principal, ref: str) -> UUID:
    """The id of the community ``ref`` names, if the principal may see it."""
    return (await seen_community(svc, who, await resolve_community(svc, ref, who))).id
