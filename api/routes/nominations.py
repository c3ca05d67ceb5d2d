"""Nominations, their debate and votes, and decisions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import examples
from api.http import page, receipt_response, view_response, wait_for
from api.routes.common import (
    COMMAND_RESPONSES,
    After,
    IdempotencyKey,
    Limit,
    MinPosition,
    Svc,
    Who,
    community_id,
    read_responses,
    scoped,
    visible,
)
from api.schemas import NominationIn, ReceiptOut, View, VoteIn
from api.services import require_writer, visible_community
from ledger.application import DialogueLedger
from ledger.domain import Nomination, NominationStatus

router = APIRouter(tags=["nominations"])


@router.get("/communities/{community}/nominations", response_model=View,
            responses=read_responses(examples.NOMINATIONS), summary="The nomination board")
def board(community: str, request: Request, svc: Svc, who: Who,
          status: NominationStatus | None = None, limit: Limit = 50, after: After = None,
          min_position: MinPosition = None) -> Response:
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    wait_for(svc, min_position)
    items = svc.reader.nominations(str(cid), status.value if status else None)
    return view_response(request, svc, page(items, lambda n: [n["made_at"], n["id"]], limit,
                                            after))


@router.post("/communities/{community}/nominations", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES, summary="Nominate a person")
def nominate(community: str, body: NominationIn, svc: Svc, who: Who,
             key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    receipt = svc.commands.call(
        DialogueLedger.nominate, cid, svc.ledger.person_id(body.nominee), body.statement,
        actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/nominations/{receipt.id}")


@router.get("/nominations/{nomination_id}", response_model=View,
            responses=read_responses(examples.NOMINATION),
            summary="A nomination with its votes and reasons")
def get_nomination(nomination_id: UUID, request: Request, svc: Svc, who: Who,
                   min_position: MinPosition = None) -> Response:
    visible(svc, who, Nomination, nomination_id)
    wait_for(svc, min_position)
    return view_response(request, svc, svc.reader.nomination(str(nomination_id)))


@router.post("/nominations/{nomination_id}/votes", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES, summary="Vote, once")
def cast_vote(nomination_id: UUID, body: VoteIn, svc: Svc, who: Who,
              key: IdempotencyKey = None) -> Response:
    require_writer(who)
    visible(svc, who, Nomination, nomination_id)
    receipt = svc.commands.call(
        DialogueLedger.cast_vote, nomination_id, body.choice, body.reason, actor_id=who.person_id,
        command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/nominations/{nomination_id}")


@router.put("/nominations/{nomination_id}/votes/mine", response_model=ReceiptOut,
            responses=COMMAND_RESPONSES, summary="Change your vote before the decision")
def change_vote(nomination_id: UUID, body: VoteIn, svc: Svc, who: Who,
                key: IdempotencyKey = None) -> Response:
    require_writer(who)
    visible(svc, who, Nomination, nomination_id)
    return receipt_response(svc.commands.call(
        DialogueLedger.change_vote, nomination_id, body.choice, body.reason, actor_id=who.person_id,
        command_id=scoped(who, key)))


@router.post("/nominations/{nomination_id}/decision", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES,
             summary="Call for the decision (admitted, declined or expired)")
def decide(nomination_id: UUID, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    visible(svc, who, Nomination, nomination_id)
    return receipt_response(svc.commands.call(
        DialogueLedger.decide_nomination, nomination_id, actor_id=who.person_id,
        command_id=scoped(who, key)))
