"""The organisation's listening: acknowledgements and commitments."""

from __future__ import annotations

from collections.abc import Callable
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
    guarded,
    read_responses,
    scoped,
    visible,
    visible_each,
)
from api.schemas import CommitmentIn, ReceiptOut, TextIn, View
from api.services import Principal, Services, require_role, visible_community
from api.tokens import TokenRole
from ledger.application import DialogueLedger, Receipt
from ledger.domain import CommandId, Commitment, CommitmentStatus, Post

router = APIRouter(tags=["listening"])
REP = TokenRole.REPRESENTATIVE


@router.post("/posts/{post_id}/acknowledgements", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES,
             summary="Acknowledge a post (representatives)")
def acknowledge(post_id: UUID, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    receipt = guarded(svc, who, Post, post_id, lambda: svc.commands.call(
        DialogueLedger.acknowledge_post, post_id, actor_id=who.person_id,
        command_id=scoped(who, key)))
    return receipt_response(receipt, created=f"/threads/{svc.ledger.thread_of(post_id)}")


@router.get("/communities/{community}/commitments", response_model=View,
            responses=read_responses(examples.COMMITMENTS), summary="The commitments tracker")
def commitments(community: str, request: Request, svc: Svc, who: Who,
                status: CommitmentStatus | None = None, limit: Limit = 50,
                after: After = None, min_position: MinPosition = None) -> Response:
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    wait_for(svc, min_position)
    items = svc.reader.commitments(str(cid), status.value if status else None)
    return view_response(request, svc, page(items, lambda c: [c["made_at"], c["id"]], limit,
                                            after))


@router.post("/communities/{community}/commitments", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES,
             summary="Make a commitment answering posts (representatives)")
def make_commitment(community: str, body: CommitmentIn, svc: Svc, who: Who,
                    key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    visible_each(svc, who, Post, body.posts)
    receipt = svc.commands.call(
        DialogueLedger.make_commitment, cid, body.posts, body.text, due_on=body.due_on,
        actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/communities/{community}/commitments")


def _step(svc: Services, who: Principal, commitment_id: UUID, key: CommandId | None,
          command: Callable[..., Receipt], text: str) -> Response:
    """Take a commitment one step (progress, fulfilment, abandonment): representatives."""
    require_role(who, REP)
    visible(svc, who, Commitment, commitment_id)
    return receipt_response(command(commitment_id, text, actor_id=who.person_id,
                                    command_id=scoped(who, key)))


@router.post("/commitments/{commitment_id}/progress", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Record progress")
def progress(commitment_id: UUID, body: TextIn, svc: Svc, who: Who,
             key: IdempotencyKey = None) -> Response:
    return _step(svc, who, commitment_id, key, svc.ledger.record_progress, body.text)


@router.post("/commitments/{commitment_id}/fulfilment", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Fulfil, with a statement")
def fulfil(commitment_id: UUID, body: TextIn, svc: Svc, who: Who,
           key: IdempotencyKey = None) -> Response:
    return _step(svc, who, commitment_id, key, svc.ledger.fulfil_commitment, body.text)


@router.post("/commitments/{commitment_id}/abandonment", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Abandon, with a statement")
def abandon(commitment_id: UUID, body: TextIn, svc: Svc, who: Who,
            key: IdempotencyKey = None) -> Response:
    return _step(svc, who, commitment_id, key, svc.ledger.abandon_commitment, body.text)
