"""The listen-and-respond report, with the CLI's parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.http import cached_view, wait_for
from api.routes.common import READ_RESPONSES, MinPosition, Svc, Who, community_id
from api.schemas import View
from api.services import Principal, Services, visible_community
from ledger.errors import InvalidInput, NotFound
from projections.report import ReportRequest, default_period

router = APIRouter(tags=["reports"])
Time = Annotated[datetime | None, Query(description="ISO 8601; UTC if no zone is given")]


def _report(request: Request, svc: Services, communities: list[str], start: datetime | None,
            end: datetime | None, at: int | None, as_of: datetime | None,
            now: datetime | None, pile_on_members: int, pile_on_hours: float) -> Response:
    if at is not None and as_of is not None:
        raise InvalidInput("give at most one of at and as_of")
    start, end, as_of, now = (_utc(t) for t in (start, end, as_of, now))
    for name, moment in (("from", start), ("to", end), ("as_of", as_of), ("now", now)):
        if moment is not None and not 1900 <= moment.year <= 2200:
            raise InvalidInput(f"{name} must lie between the years 1900 and 2200", field=name)
    if now is None and as_of is None:  # whole seconds, so that a repeat is served at once
        now = datetime.now(tz=UTC).replace(microsecond=0)
    default_start, default_end = default_period(now or as_of or datetime.now(tz=UTC))
    report_request = ReportRequest(
        community_ids=tuple(communities), start=start or default_start,
        end=end or default_end, at=at, as_of=as_of, now=now,
        pile_on_members=pile_on_members, pile_on_hours=pile_on_hours)
    if report_request.start >= report_request.end:
        raise InvalidInput("from must be before to", field="from")
    return cached_view(request, svc, ("report", report_request),
                       lambda: svc.report.compute(report_request))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.get("/communities/{community}/reports/listening", response_model=View,
            responses=READ_RESPONSES, summary="Did the organisation listen and respond?")
def community_report(
        community: str, request: Request, svc: Svc, who: Who,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: Time = None, at: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        as_of: Time = None, now: Time = None,
        pile_on_members: Annotated[int, Query(ge=1, le=1000)] = 5,
        pile_on_hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
        min_position: MinPosition = None) -> Response:
    cid = visible_community(svc, who, community_id(svc, community)).id
    wait_for(svc, min_position)
    return _report(request, svc, [str(cid)], from_, to, at, as_of, now, pile_on_members,
                   pile_on_hours)


@router.get("/organisations/{organisation}/reports/listening", response_model=View,
            responses=READ_RESPONSES,
            summary="The report over all of an organisation's communities you may see")
def organisation_report(
        organisation: str, request: Request, svc: Svc, who: Who,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: Time = None, at: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        as_of: Time = None, now: Time = None,
        pile_on_members: Annotated[int, Query(ge=1, le=1000)] = 5,
        pile_on_hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
        min_position: MinPosition = None) -> Response:
    organisation_id = svc.ledger.organisation_id(organisation)
    wait_for(svc, min_position)
    communities = _visible(svc, who, [c["id"] for c in
                                      svc.reader.communities(str(organisation_id))])
    return _report(request, svc, communities, from_, to, at, as_of, now, pile_on_members,
                   pile_on_hours)


def _visible(svc: Services, who: Principal, ids: list[str]) -> list[str]:
    shown = []
    for cid in ids:
        try:
            visible_community(svc, who, svc.ledger.community_id(cid))
        except NotFound:
            continue
        shown.append(cid)
    return shown
