"""Live dashboards: a Server-Sent Events stream per community of the ledger positions and
the kinds of change as they are recorded."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification
from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from api import examples
from api.answers import credential
from api.routes.common import MAX_POSITION, Svc, Who, community_id, read_responses
from api.services import Principal, Services, current_principal, visible_community
from ledger.domain import Community
from ledger.errors import NotFound

router = APIRouter(tags=["live"])
#: How often an open stream checks that its reader may still see the community.
RECHECK_SECONDS = 5.0
#: How often an open stream checks that its token is still live (not revoked, not expired):
#: a stream ends within about this long (plus one poll) after its token is revoked.
TOKEN_RECHECK_SECONDS = 0.25


def _still_visible(svc: Services, who: Principal, community: UUID) -> bool:
    svc.visibility.clear()
    try:
        visible_community(svc, who, community)
    except NotFound:
        return False
    return True


#: The topics of a community's own events start so (``module:Community.``).
COMMUNITY_TOPIC = f"{Community.__module__}:{Community.__qualname__}."


class CommunityIndex:
    """Which community an event belongs to: the community itself for its own events (its
    creation, rule changes), the community named by the aggregate for the others, None for
    people and organisations."""

    def __init__(self, svc: Services, size: int = 50_000) -> None:
        self.svc = svc
        self.size = size
        self.known: OrderedDict[UUID, str | None] = OrderedDict()

    def community_of(self, notification: Notification) -> str | None:
        aggregate_id = notification.originator_id
        assert isinstance(aggregate_id, UUID)
        if aggregate_id in self.known:
            self.known.move_to_end(aggregate_id)
            return self.known[aggregate_id]
        if notification.topic.startswith(COMMUNITY_TOPIC):
            community: str | None = str(aggregate_id)
        else:
            state: dict[str, Any] = orjson.loads(notification.state)
            community = state.get("community_id")
        if community is None and notification.originator_version > 1:
            try:
                aggregate: object = self.svc.ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                aggregate = None
            found = getattr(aggregate, "community_id", None)
            community = None if found is None else str(found)
        self.known[aggregate_id] = community
        if len(self.known) > self.size:
            self.known.popitem(last=False)
        return community


@router.get("/communities/{community}/events", response_class=EventSourceResponse,
            responses=read_responses(content={
                "text/event-stream": {"example": examples.EVENT_STREAM}}),
            summary="Server-Sent Events: each change to the community as it is recorded",
            response_description="text/event-stream of `change` events: "
                                 '{"position", "kind", "id"}')
async def events(
        community: str, request: Request, svc: Svc, who: Who,
        last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0,
                                                    le=MAX_POSITION)] = None,
        since: Annotated[int | None, Query(ge=0, le=MAX_POSITION, description="start after "
                                           "this position (default: now)")] = None,
        max_events: Annotated[int | None, Query(ge=1, le=100_000)] = None,
        timeout: Annotated[float | None, Query(gt=0, le=86_400)] = None,
) -> EventSourceResponse:
    cid = await asyncio.to_thread(
        lambda: str(visible_community(svc, who, community_id(svc, community, who)).id))
    index: CommunityIndex = request.app.state.community_index
    start = last_event_id if last_event_id is not None else since
    if start is None:
        start = await asyncio.to_thread(lambda: svc.ledger.position)

    authorization = request.headers.get("authorization", "")
    digest = credential(authorization)

    async def token_live() -> bool:
        return digest is not None and await current_principal(
            svc, authorization, digest) is not None

    async def stream() -> AsyncIterator[dict[str, str]]:
        position, sent = start, 0
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        checked = token_checked = loop.time()
        while deadline is None or loop.time() < deadline:
            if loop.time() - token_checked >= TOKEN_RECHECK_SECONDS:  # revoked? expired?
                token_checked = loop.time()
                if not await token_live():
                    return
            if loop.time() - checked > RECHECK_SECONDS:  # a reader who left sees no more
                checked = loop.time()
                if not await asyncio.to_thread(_still_visible, svc, who, UUID(cid)):
                    return
            batch = await asyncio.to_thread(
                svc.ledger.recorder.select_notifications, position + 1, 500)
            for notification in batch:
                position = notification.id
                if notification.originator_id == who.token_id and not await token_live():
                    return  # this token's own revocation
                if ":Membership." in notification.topic:  # did the reader just leave?
                    checked = loop.time()
                    if not await asyncio.to_thread(_still_visible, svc, who, UUID(cid)):
                        return
                if await asyncio.to_thread(index.community_of, notification) != cid:
                    continue
                yield {"id": str(notification.id), "event": "change",
                       "data": orjson.dumps({
                           "position": notification.id,
                           "kind": notification.topic.rpartition(":")[2],
                           "id": str(notification.originator_id)}).decode()}
                sent += 1
                if max_events is not None and sent >= max_events:
                    return
            if not batch:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.2)

    return EventSourceResponse(stream(), ping=15)
