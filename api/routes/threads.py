"""Threads and posts: open, reply, edit, retract; thread lists and reply trees."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import examples
from api.command_process import reply_in_thread
from api.http import reached, receipt_response, served_view
from api.problems import Problem
from api.routes.common import (
    COMMAND_RESPONSES,
    After,
    IdempotencyKey,
    Limit,
    MinPosition,
    Svc,
    Who,
    caller,
    check_exists,
    check_visible,
    community_id,
    guarded,
    read_responses,
    scoped,
    seen_community_of,
    visible,
)
from api.schemas import EditIn, ReceiptOut, ReplyIn, ThreadIn, View
from api.services import require_writer, visible_community
from ledger.application import DialogueLedger
from ledger.domain import Post, Thread
from ledger.errors import LedgerError

router = APIRouter(tags=["threads and posts"])


@router.get("/communities/{community}/threads", response_model=View,
            responses=read_responses(examples.THREADS),
            summary="Threads by last activity, with counts and whether the organisation "
                    "responded")
async def list_threads(community: str, request: Request, limit: Limit = 50,
                       after: After = None, min_position: MinPosition = None) -> Response:
    svc, who = await caller(request)
    cid = await seen_community_of(svc, who, community)
    await reached(svc, min_position)
    return await served_view(request, svc, ("threads", cid, limit, after),
                             lambda: svc.reader.threads(str(cid), limit=limit, after=after),
                             community=cid)


@router.post("/communities/{community}/threads", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES, summary="Open a thread")
def open_thread(community: str, body: ThreadIn, svc: Svc, who: Who,
                key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    receipt = svc.commands.call(
        DialogueLedger.open_thread, cid, body.kind, body.title, body.body, actor_id=who.person_id,
        command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/threads/{receipt.id}")


@router.get("/threads/{thread_id}", response_model=View,
            responses=read_responses(examples.THREAD),
            summary="The public reply tree: latest versions, placeholders for withheld posts")
async def get_thread(thread_id: UUID, request: Request,
                     min_position: MinPosition = None) -> Response:
    svc, who = await caller(request)
    community = await check_visible(svc, who, Thread, thread_id)
    await reached(svc, min_position)
    return await served_view(request, svc, ("thread", thread_id, "public"),
                             lambda: svc.reader.thread(str(thread_id)), community=community)


@router.get("/threads/{thread_id}/audit", response_model=View,
            responses=read_responses(examples.AUDITOR_THREAD),
            tags=["auditors"],
            summary="Auditors: every version, removed and retracted content, history")
async def audit_thread(thread_id: UUID, request: Request,
                       min_position: MinPosition = None) -> Response:
    svc, who = await caller(request)
    if not who.is_auditor:
        raise Problem(403, "auditors-only", "only auditors read the auditor view")
    if ("Thread", thread_id) not in svc.communities_of:  # else known to exist
        await run_in_threadpool(check_exists, svc, Thread, thread_id)
    await reached(svc, min_position)
    return await served_view(request, svc, ("thread", thread_id, "auditor"),
                             lambda: svc.reader.thread(str(thread_id), audience="auditor"))


@router.post("/posts/{post_id}/replies", response_model=ReceiptOut, status_code=201,
             responses=COMMAND_RESPONSES, summary="Reply to a post")
async def reply(post_id: UUID, body: ReplyIn, request: Request,
                key: IdempotencyKey = None) -> Response:
    svc, who = await caller(request)
    require_writer(who)

    try:
        receipt, thread_id = await svc.commands.run(
            reply_in_thread, post_id, body.body, kind=body.kind, actor_id=who.person_id,
            command_id=scoped(who, key))
    except LedgerError:  # 404 for someone who may not see the post's community
        await run_in_threadpool(visible, svc, who, Post, post_id)
        raise
    return receipt_response(receipt, created=f"/threads/{thread_id}")


@router.post("/posts/{post_id}/edits", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Edit your post (every version is kept)")
def edit(post_id: UUID, body: EditIn, svc: Svc, who: Who,
         key: IdempotencyKey = None) -> Response:
    require_writer(who)
    return receipt_response(guarded(svc, who, Post, post_id, lambda: svc.commands.call(
        DialogueLedger.edit_post, post_id, body.body, actor_id=who.person_id,
        command_id=scoped(who, key))))


@router.post("/posts/{post_id}/retraction", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES,
             summary="Retract your post (hidden publicly, kept for auditors)")
def retract(post_id: UUID, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    return receipt_response(guarded(svc, who, Post, post_id, lambda: svc.commands.call(
        DialogueLedger.retract_post, post_id, actor_id=who.person_id, command_id=scoped(who, key))))
