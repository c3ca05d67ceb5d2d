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


@router.get("/readyz", summary="The store answers; how far behind the views are",
            responses=read_responses(examples.READINESS, base={
                503: {"description": "the store cannot be reached, or the command process "
                             "is being restarted",
                      "content": {"application/json": {"example": examples.UNREADY}}}}))
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
    return json_response({"status": "ready", "ledger_position": head,
                          "view_position": views, "projection_lag": max(0, head - views)})


@router.get("/metrics", summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request, svc: Svc) -> Response:
    body = request.app.state.metrics.render(svc.ledger.position, svc.projector.position)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
