"""Auditors: the record as it stood at any point, thread histories, compliance exports,
checkpoints and proofs. Every endpoint here is for auditor tokens only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from api import examples
from api.http import check_reached, json_response, view_response
from api.problems import Problem
from api.routes.common import MAX_POSITION, Svc, Who, community_id, read_responses
from api.schemas import View
from api.services import Principal, Services
from ledger.domain import Thread
from ledger.errors import InvalidInput, NotFound
from replay import seal
from replay.history import thread_history
from replay.point_in_time import PointInTime

router = APIRouter(prefix="/audit", tags=["auditors"])
At = Annotated[int | None, Query(ge=1, le=MAX_POSITION, description="only events up to this "
                                                             "ledger position")]
AsOf = Annotated[datetime | None, Query(description="only events that occurred by this "
                                                    "time (ISO 8601, UTC if no zone)")]


def _auditor(who: Principal) -> None:
    if not who.is_auditor:
        raise Problem(403, "auditors-only", "only auditors use the audit endpoints")


def _point(svc: Services, at: int | None, as_of: datetime | None) -> datetime | None:
    if at is not None and as_of is not None:
        raise InvalidInput("give at most one of at and as_of")
    check_reached(svc, "at", at)
    if as_of is None:
        return None
    if not 1900 <= as_of.year <= 2200:
        raise InvalidInput("as_of must lie between the years 1900 and 2200", field="as_of")
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)


def _pit(svc: Services) -> PointInTime:
    return PointInTime(svc.ledger, svc.projector)


@router.get("/threads/{thread_id}", response_model=View, responses=read_responses(content={
    "application/json": {"examples": {
        "auditor": {"summary": "audience=auditor (the default)", "value": examples.THREAD_THEN},
        "public": {"summary": "audience=public", "value": examples.PUBLIC_THREAD_THEN}}}}),
            summary="A thread's reply tree as it stood at a position or time")
def thread_then(thread_id: UUID, request: Request, svc: Svc, who: Who, at: At = None,
                as_of: AsOf = None,
                audience: Literal["public", "auditor"] = "auditor") -> Response:
    _auditor(who)
    moment = _point(svc, at, as_of)
    svc.ledger.get(Thread, thread_id)
    return view_response(request, svc, _pit(svc).thread(thread_id, audience=audience, at=at,
                                                        as_of=moment))


@router.get("/threads/{thread_id}/history", response_model=View,
            responses=read_responses(examples.THREAD_HISTORY),
            summary="Every event of a thread, its posts and the moderation acts on them")
def history(thread_id: UUID, request: Request, svc: Svc, who: Who, at: At = None,
            as_of: AsOf = None) -> Response:
    _auditor(who)
    moment = _point(svc, at, as_of)
    return view_response(request, svc, thread_history(svc.ledger, _pit(svc), thread_id,
                                                      at=at, as_of=moment))


@router.get("/communities/{community}/roster", response_model=View,
            responses=read_responses(examples.ROSTER_THEN),
            summary="The roster as it stood at a position or time")
def roster_then(community: str, request: Request, svc: Svc, who: Who, at: At = None,
                as_of: AsOf = None) -> Response:
    _auditor(who)
    moment = _point(svc, at, as_of)
    return view_response(request, svc, _pit(svc).roster(community_id(svc, community, who),
                                                        at=at, as_of=moment))


@router.get("/communities/{community}/moderation-log", response_model=View,
            responses=read_responses(examples.MODERATION_LOG_THEN),
            summary="The moderation log as it stood at a position or time")
def moderation_log_then(community: str, request: Request, svc: Svc, who: Who,
                        at: At = None, as_of: AsOf = None) -> Response:
    _auditor(who)
    moment = _point(svc, at, as_of)
    return view_response(request, svc, _pit(svc).moderation_log(
        community_id(svc, community, who), at=at, as_of=moment))


@router.get("/exports/moderation", responses=read_responses(content={
    "text/csv": {"example": examples.MODERATION_CSV},
    "application/jsonl": {"examples": {
        "jsonl": {"summary": "format=jsonl", "value": examples.MODERATION_JSONL},
        "dsa": {"summary": "format=dsa", "value": examples.MODERATION_DSA}}}}),
    summary="Moderation decisions for compliance: CSV, JSON Lines or DSA batches")
def export_moderation(svc: Svc, who: Who, format: Literal["csv", "jsonl", "dsa"] = "csv",
                      community: Annotated[list[str] | None, Query()] = None,
                      from_: Annotated[datetime | None, Query(alias="from")] = None,
                      to: Annotated[datetime | None, Query()] = None) -> Response:
    from replay.dsa import DsaOptions, puid_key_from_env
    from replay.moderation_export import (
        Decision,
        DecisionReader,
        write_csv,
        write_dsa,
        write_jsonl,
    )

    _auditor(who)
    start, end = _point(svc, None, from_), _point(svc, None, to)
    ids = [str(community_id(svc, ref, who)) for ref in community or []]
    reader = DecisionReader(svc.projector, community_ids=ids, start=start, end=end)
    options = DsaOptions(puid_key=puid_key_from_env()) if format == "dsa" else None

    def chunks() -> Iterator[bytes]:  # page by page: memory stays flat
        header_sent = False
        pending: list[Decision] = []
        for decision in reader:
            out = io.StringIO()
            if format == "csv":
                write_csv([decision], out)
                text = out.getvalue()
                yield (text if not header_sent else text.split("\r\n", 1)[1]).encode()
                header_sent = True
            elif format == "jsonl":
                write_jsonl([decision], out)
                yield out.getvalue().encode()
            else:
                pending.append(decision)
                if len(pending) == 100:
                    yield _dsa(pending)
                    pending = []
        if format == "csv" and not header_sent:
            out = io.StringIO()
            write_csv([], out)
            yield out.getvalue().encode()
        if pending:
            yield _dsa(pending)

    def _dsa(batch: list[Decision]) -> bytes:
        out = io.StringIO()
        assert options is not None
        write_dsa(batch, out, options)
        return out.getvalue().encode()

    media = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl",
             "dsa": "application/jsonl"}[format]
    return StreamingResponse(chunks(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="moderation.{format}"'})


@router.get("/exports/events", responses=read_responses(content={
    "application/jsonl": {"example": examples.EVENTS_JSONL}}),
    summary="The whole event log as JSON Lines, for an independent copy")
def export_events(svc: Svc, who: Who) -> Response:
    _auditor(who)
    buffer = io.BytesIO()
    seal.export_events(svc.ledger, buffer, redact_credentials=True)
    return Response(buffer.getvalue(), media_type="application/jsonl", headers={
        "Content-Disposition": 'attachment; filename="events.jsonl"'})


@router.get("/checkpoints", response_model=View,
            responses=read_responses(examples.CHECKPOINTS),
            summary="The signed checkpoints recorded so far, newest last")
def list_checkpoints(request: Request, svc: Svc, who: Who) -> Response:
    _auditor(who)
    return view_response(request, svc, {"items": [cp.to_json()
                                                  for cp in seal.checkpoints(svc.ledger)]})


@router.get("/proofs/inclusion", response_model=View,
            responses=read_responses(examples.INCLUSION_PROOF),
            summary="An RFC 9162 inclusion proof of one event in the latest checkpoint")
def inclusion(svc: Svc, who: Who,
              position: Annotated[int, Query(ge=1, le=MAX_POSITION)]) -> Response:
    _auditor(who)
    latest = seal.latest_checkpoint(svc.ledger)
    if latest is None:
        raise NotFound("no checkpoint has been recorded yet")
    document, ok = seal.inclusion_proof_document(svc.ledger, position, latest,
                                                 redact_credentials=True)
    return json_response({**document, "verified": ok})


@router.get("/proofs/consistency", response_model=View,
            responses=read_responses(examples.CONSISTENCY_PROOF),
            summary="An RFC 9162 consistency proof between two recorded checkpoints")
def consistency(svc: Svc, who: Who, old: Annotated[int, Query(ge=1, le=MAX_POSITION)],
                new: Annotated[int, Query(ge=1, le=MAX_POSITION)]) -> Response:
    _auditor(who)
    recorded = {cp.id: cp for cp in seal.checkpoints(svc.ledger)}
    if old not in recorded or new not in recorded:
        raise NotFound("no such checkpoint")
    document, ok = seal.consistency_proof_document(svc.ledger, recorded[old], recorded[new])
    return json_response({**document, "verified": ok})
