"""Response helpers: receipts, JSON views with ETags, cursor pages, read-your-writes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.answers import Answer, credential, view_answer
from api.problems import Problem
from api.services import Services
from ledger.application import Receipt
from ledger.errors import InvalidInput

JSON = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  ) -> Response:
    return Response(orjson.dumps(data, default=str), status_code=status, media_type=JSON,
                    headers=headers)


def receipt_response(receipt: Receipt, *, created: str | None = None) -> Response:
    """A command's answer: what it created or changed, and the ledger position to wait for
    (``min_position``) before reading. ``created`` (the path to read what it created)
    makes it 201 Created with that Location."""
    body = {"id": str(receipt.id), "position": receipt.position}
    headers = {"X-Ledger-Position": str(receipt.position)}
    if receipt.replayed:  # the same answer as the first time; only this header tells
        headers["Idempotent-Replayed"] = "true"
    if created:
        headers["Location"] = created
    return json_response(body, 201 if created is not None else 200, headers)


def check_reached(svc: Services, name: str, position: int | None) -> None:
    """A position a request names (``min_position``, ``at``) must be one the ledger has
    reached: beyond its head, 422 (``invalid-input``, with the head)."""
    if position is None:
        return
    head = svc.ledger.position
    if position > head:
        raise InvalidInput(f"{name} is beyond the ledger's head", field=name, head=head)


async def reached_head(svc: Services, name: str, position: int | None) -> None:
    """:func:`check_reached` for ``async`` endpoints (the store only beyond the views)."""
    if position is not None and position > svc.projector.position:
        await run_in_threadpool(check_reached, svc, name, position)


def wait_for(svc: Services, min_position: int | None) -> None:
    """Read-your-writes: wait until the views have reached ``min_position``."""
    if min_position is None:
        return
    check_reached(svc, "min_position", min_position)
    if not svc.projector.wait(min_position, timeout=svc.freshness_timeout):
        raise Problem(503, "view-not-ready",
                      f"the views have not reached position {min_position} yet",
                      headers={"Retry-After": "1"}, position=svc.projector.position)


async def reached(svc: Services, min_position: int | None) -> None:
    """:func:`wait_for` for ``async`` endpoints: at once when the views are there already
    (then the position is also within the ledger's head), else in the thread pool."""
    if min_position is not None and min_position > svc.projector.position:
        await run_in_threadpool(wait_for, svc, min_position)


def view_response(request: Request, svc: Services, data: Any) -> Response:
    """A view with a strong ETag over its bytes; ``If-None-Match`` answers 304."""
    body = orjson.dumps(data, default=str)
    return _send(request, svc, body, _etag(body))


def cached_view(request: Request, svc: Services, key: tuple[Any, ...],
                build: Callable[[], Any]) -> Response:
    """A view built at most once per position of the views: the same request, with nothing
    new recorded since, is answered from the finished body. ``key`` names what is built;
    access must have been checked before."""
    position = svc.projector.position
    known = svc.views.get((*key, position))
    if known is None:
        known = _build(build)
        svc.views[(*key, position)] = known
        while len(svc.views) > 256:
            svc.views.popitem(last=False)
    return _send(request, svc, *known)


async def served_view(request: Request, svc: Services, key: tuple[Any, ...],
                      build: Callable[[], Any], *, community: UUID | None = None,
                      valid_until: float | None = None) -> Response:
    """:func:`cached_view` for ``async`` endpoints: a hit is answered on the event loop; a
    miss is built in the thread pool, once however many requests for it arrive meanwhile
    (they wait for that build instead of each building the same body).

    The answer is also left in ``svc.answers`` for the same request again (see
    ``api/answers.py``), valid while the views stay at this position, the principal and
    the visibility of ``community`` (if the route checked one) stay known, and, if given,
    until ``valid_until`` (``time.monotonic()``)."""
    position = svc.projector.position
    full_key = (*key, position)
    known = svc.views.get(full_key)
    if known is None:
        pending = svc.building.get(full_key)
        if pending is None:
            pending = asyncio.ensure_future(run_in_threadpool(_build, build))
            svc.building[full_key] = pending
            pending.add_done_callback(lambda _: svc.building.pop(full_key, None))
        known = await asyncio.shield(pending)
        svc.views[full_key] = known
        while len(svc.views) > 256:
            svc.views.popitem(last=False)
    _remember(request, svc, known, position, community, valid_until)
    return _send(request, svc, *known)


def _remember(request: Request, svc: Services, known: tuple[bytes, str], position: int,
              community: UUID | None, valid_until: float | None) -> None:
    token_digest = credential(request.headers.get("authorization", ""))
    token = None if token_digest is None else svc.tokens.get(token_digest)
    if token_digest is None or token is None:
        return
    expires = [math.inf]  # the token itself is checked on every request
    if community is not None:
        seen = svc.visibility.get((community, token[0].person_id, False))
        if seen is None:  # cleared by a write meanwhile: answer afresh next time
            return
        expires.append(seen[1])
    if valid_until is not None:
        expires.append(valid_until)
    if request.method == "GET" and position == svc.projector.position:
        svc.answers.remember(request.scope, token_digest, Answer(
            body=known[0], etag=known[1], position=position, expires=min(expires),
            route=request.scope.get("route")))


def _build(build: Callable[[], Any]) -> tuple[bytes, str]:
    body = orjson.dumps(build(), default=str)
    return body, _etag(body)


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _send(request: Request, svc: Services, body: bytes, etag: str) -> Response:
    return view_answer(request.headers.get("if-none-match"), body, etag,
                       svc.projector.position)


def page(items: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], list[Any]],
         limit: int, after: str | None) -> dict[str, Any]:
    """Cursor pagination of a list by ``key`` (a list of JSON values, ending in the id)."""
    ordered = sorted(items, key=lambda item: orjson.dumps(key(item)))
    if after is not None:
        try:
            mark = orjson.dumps(orjson.loads(base64.urlsafe_b64decode(after.encode())))
        except (ValueError, orjson.JSONDecodeError):
            raise InvalidInput("not a cursor from this list", field="after") from None
        ordered = [item for item in ordered if orjson.dumps(key(item)) > mark]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    cursor = (base64.urlsafe_b64encode(orjson.dumps(key(chunk[-1]))).decode()
              if more and chunk else None)
    return {"items": chunk, "next": cursor}
