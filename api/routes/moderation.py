"""Moderation decisions, notices, appeals, and the moderation log."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import examples
from api.http import receipt_response, view_response, wait_for
from api.problems import Problem
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
    visible_each,
)
from api.schemas import AppealDecisionIn, ModerationIn, ReceiptOut, TextIn, View
from api.services import is_moderator_of, require_role, require_writer, visible_community
from api.tokens import TokenRole
from ledger.application import DialogueLedger
from ledger.domain import ModerationDecision, Post, Thread

router = APIRouter(tags=["moderation"])
MOD = TokenRole.MODERATOR


@router.post("/communities/{community}/moderation-decisions", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES,
             summary="Take a moderation decision (moderators)")
def moderate(community: str, body: ModerationIn, svc: Svc, who: Who,
             key: IdempotencyKey = None) -> Response:
    require_role(who, MOD)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    visible_each(svc, who, Post, body.posts)
    visible_each(svc, who, Thread, [] if body.thread is None else [body.thread])
    member = svc.ledger.person_id(body.member) if body.member else None
    receipt = svc.commands.call(
        DialogueLedger.moderate, cid, body.action, body.reason_code, body.statement,
        post_ids=body.posts, thread_id=body.thread, member_id=member,
        automated_detection=body.automated_detection, author_notified=body.author_notified,
        actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/moderation-decisions/{receipt.id}")


@router.get("/moderation-decisions/{decision_id}", response_model=View,
            responses=read_responses(examples.MODERATION_DECISION),
            summary="A decision and its appeal (the community's moderators, the affected "
                    "people, auditors)")
def get_decision(decision_id: UUID, request: Request, svc: Svc, who: Who,
                 min_position: MinPosition = None) -> Response:
    cid = visible(svc, who, ModerationDecision, decision_id)
    wait_for(svc, min_position)
    decision = svc.ledger.get(ModerationDecision, decision_id)
    if not (who.is_auditor or who.person_id in decision.affected_person_ids
            or is_moderator_of(svc, who, cid)):
        raise Problem(403, "moderators-affected-and-auditors-only",
                      "a decision is for this community's moderators, the people it "
                      "affects and auditors")
    outcome = decision.appeal_outcome
    return view_response(request, svc, {
        "id": str(decision.id), "community_id": str(decision.community_id),
        "side": decision.moderator_side.value, "action": decision.action.value,
        "reason_code": decision.reason_code.value, "statement": decision.statement,
        "post_ids": [str(p) for p in decision.post_ids],
        "thread_id": None if decision.thread_id is None else str(decision.thread_id),
        "member_id": None if decision.member_id is None else str(decision.member_id),
        "affected_person_ids": [str(p) for p in decision.affected_person_ids],
        "automated_detection": decision.automated_detection,
        "author_notified": decision.author_notified,
        "appeal": {"status": ("none" if decision.appellant_id is None else
                              "lodged" if outcome is None else outcome.value),
                   "appellant_id": (None if decision.appellant_id is None
                                    else str(decision.appellant_id))}})


@router.post("/moderation-decisions/{decision_id}/notice", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Record the notice sent to the author")
def notice(decision_id: UUID, body: TextIn, svc: Svc, who: Who,
           key: IdempotencyKey = None) -> Response:
    require_role(who, MOD)
    visible(svc, who, ModerationDecision, decision_id)
    return receipt_response(svc.commands.call(
        DialogueLedger.notify_author, decision_id, body.text, actor_id=who.person_id,
        command_id=scoped(who, key)))


@router.post("/moderation-decisions/{decision_id}/appeal", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES,
             summary="Appeal a decision (the affected author, once)")
def appeal(decision_id: UUID, body: TextIn, svc: Svc, who: Who,
           key: IdempotencyKey = None) -> Response:
    require_writer(who)
    visible(svc, who, ModerationDecision, decision_id)
    receipt = svc.commands.call(
        DialogueLedger.lodge_appeal, decision_id, body.text, actor_id=who.person_id,
        command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/moderation-decisions/{decision_id}")


@router.post("/moderation-decisions/{decision_id}/appeal/decision", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES,
             summary="Uphold or reverse (another moderator)")
def decide_appeal(decision_id: UUID, body: AppealDecisionIn, svc: Svc, who: Who,
                  key: IdempotencyKey = None) -> Response:
    require_role(who, MOD)
    visible(svc, who, ModerationDecision, decision_id)
    return receipt_response(svc.commands.call(
        DialogueLedger.decide_appeal, decision_id, body.outcome, body.reasons,
        actor_id=who.person_id, command_id=scoped(who, key)))


@router.get("/communities/{community}/moderation-log", response_model=View,
            responses=read_responses(examples.MODERATION_LOG), tags=["auditors"],
            summary="Every decision, its notice and appeal (auditors and moderators)")
def moderation_log(community: str, request: Request, svc: Svc, who: Who, limit: Limit = 100,
                   after: After = None, min_position: MinPosition = None) -> Response:
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    if not who.is_auditor and not is_moderator_of(svc, who, cid):
        raise Problem(403, "auditors-and-moderators-only",
                      "the moderation log is for auditors and this community's moderators")
    wait_for(svc, min_position)
    return view_response(request, svc, svc.reader.moderation_log(str(cid), limit=limit,
                                                                 after=after))
