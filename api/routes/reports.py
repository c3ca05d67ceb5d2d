"""The listen-and-respond report, with the CLI's parameters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import examples
from api.http import cached_view, check_reached, reached, reached_head, served_view, wait_for
from api.routes.common import Svc, Who, caller, read_responses, seen_community_of
from api.schemas import View
from api.services import Principal, Services, visible_community
from ledger.errors import InvalidInput, NotFound
from projections.report import ReportRequest, default_period

router = APIRouter(tags=["reports"])


def _report_request(communities: list[str], start: datetime | None, end: datetime | None,
                    at: int | None, as_of: datetime | None, now: datetime | None,
                    pile_on_members: int, pile_on_hours: float) -> ReportRequest:
    """The report's parameters, checked. Unless ``now`` or ``as_of`` is given, "now" (for
    the ages and overdue figures, and the default period) is the current whole second: a
    report is built at most once per second and position of the views, and a cached one is
    never more than a second behind the clock."""
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
    return report_request


def _until_the_clock_moves(params: ReportQuery, report: ReportRequest) -> float | None:
    """When a report computed for the current second stops being the report of "now"
    (``time.monotonic()``); None for one whose time was given."""
    if params.now is not None or params.as_of is not None or report.now is None:
        return None
    ends = report.now.timestamp() + 1.0
    return time.monotonic() + max(0.0, ends - time.time())


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ReportQuery(BaseModel):
    """The report's query parameters (the CLI's), validated in one step."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(None, alias="from",
                                   description="ISO 8601; UTC if no zone is given")
    to: datetime | None = Field(None, description="ISO 8601; UTC if no zone is given")
    at: int | None = Field(None, ge=1, le=2**62)
    as_of: datetime | None = Field(None, description="ISO 8601; UTC if no zone is given")
    now: datetime | None = Field(None, description="ISO 8601; UTC if no zone is given")
    pile_on_members: int = Field(5, ge=1, le=1000)
    pile_on_hours: float = Field(24.0, gt=0, le=24 * 366)
    min_position: int | None = Field(
        None, ge=0, le=2**62, description="read-your-writes: answer only once the views "
                                          "have reached this ledger position (a command's "
                                          "`position`)")

    def request(self, communities: list[str]) -> ReportRequest:
        return _report_request(communities, self.from_, self.to, self.at, self.as_of,
                               self.now, self.pile_on_members, self.pile_on_hours)


Params = Annotated[ReportQuery, Query()]


@router.get("/communities/{community}/reports/listening", response_model=View,
            responses=read_responses(examples.LISTENING_REPORT),
            summary="Did the organisation listen and respond?")
async def community_report(community: str, request: Request, params: Params) -> Response:
    svc, who = await caller(request)
    cid = await seen_community_of(svc, who, community)
    await reached_head(svc, "at", params.at)
    await reached(svc, params.min_position)
    report = params.request([str(cid)])
    return await served_view(request, svc, ("report", report),
                             lambda: svc.report.compute(report), community=cid,
                             valid_until=_until_the_clock_moves(params, report))


@router.get("/organisations/{organisation}/reports/listening", response_model=View,
            responses=read_responses(examples.LISTENING_REPORT),
            summary="The report over all of an organisation's communities you may see")
def organisation_report(organisation: str, request: Request, svc: Svc, who: Who,
                        params: Params) -> Response:
    organisation_id = svc.ledger.organisation_id(organisation)
    check_reached(svc, "at", params.at)
    wait_for(svc, params.min_position)
    communities = _visible(svc, who, [c["id"] for c in
                                      svc.reader.communities(str(organisation_id))])
    report = params.request(communities)
    return cached_view(request, svc, ("report", report), lambda: svc.report.compute(report))


def _visible(svc: Services, who: Principal, ids: list[str]) -> list[str]:
    shown = []
    for cid in ids:
        try:
            visible_community(svc, who, svc.ledger.community_id(cid))
        except NotFound:
            continue
        shown.append(cid)
    return shown
