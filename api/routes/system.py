"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import examples
from api.http import json_response
from api.routes.common import Svc, read_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive",
            responses=read_responses(examples.HEALTH, base={}))
def healthz() -> Response:
    return json_response({"status": "ok"})


#: How many parked events ``/readyz`` lists (``parked_count`` counts them all).
PARKED_SHOWN = 100


@router.get("/readyz", summary="The store answers; how far behind the views are",
            responses=read_responses(examples.READINESS, base={
                503: {"description": "the store cannot be reached, the command process is "
                             "being restarted, or the views could not apply some events "
                             "(parked: see docs/projections.md)",
                      "content": {"application/json": {"examples": {
                          "restarting": {"summary": "the command process is being restarted",
                                         "value": examples.UNREADY},
                          "parked": {"summary": "events the views could not apply are parked",
                                     "value": examples.PARKED}}}}}}))
def readyz(svc: Svc) -> Response:
    try:
        head = svc.ledger.position
    except Exception as error:  # any store failure means not ready
        return json_response({"status": "unavailable", "store": str(error)[:200]}, 503,
                             {"Retry-After": "5"})
    if not svc.commands.available:
        return json_response({"status": "unavailable",
                              "commands": "the command process is being restarted"}, 503,
                             {"Retry-After": "1"})
    views = svc.projector.position
    readiness = {"ledger_position": head, "view_position": views,
                 "projection_lag": max(0, head - views)}
    try:
        parked = svc.projector.parked_events(PARKED_SHOWN + 1)
    except Exception:  # the store answered above: the projector will report it
        parked = []
    if parked:
        count = len(parked) if len(parked) <= PARKED_SHOWN else svc.projector.parked_count()
        return json_response({"status": "unavailable",
                              "views": "events the views could not apply are parked",
                              **readiness, "parked_count": count,
                              "parked": [p.as_dict() for p in parked[:PARKED_SHOWN]]}, 503)
    return json_response({"status": "ready", **readiness})


@router.get("/metrics", summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request, svc: Svc) -> Response:
    body = request.app.state.metrics.render(svc.ledger.position, svc.projector.position,
                                            svc.projector.parked_count())
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
