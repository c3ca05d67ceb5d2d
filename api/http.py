"""Response helpers: receipts, JSON views with ETags, cursor pages, read-your-writes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

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
    (``min_position``) before reading. ``created`` (a path, or "" for none) makes it 201."""
    body = {"id": str(receipt.id), "position": receipt.position}
    headers = {"X-Ledger-Position": str(receipt.position)}
    if receipt.replayed:  # the same answer as the first time; only this header tells
        headers["Idempotent-Replayed"] = "true"
    if created:
        headers["Location"] = created
    return json_response(body, 201 if created is not None else 200, headers)


def wait_for(svc: Services, min_position: int | None) -> None:
    """Read-your-writes: wait until the views have reached ``min_position``."""
    if min_position is None:
        return
    if min_position > svc.ledger.position:
        raise InvalidInput("min_position is beyond the ledger's head",
                           field="min_position", head=svc.ledger.position)
    if not svc.projector.wait(min_position, timeout=svc.freshness_timeout):
        raise Problem(503, "view-not-ready",
                      f"the views have not reached position {min_position} yet",
                      headers={"Retry-After": "1"}, position=svc.projector.position)


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
        body = orjson.dumps(build(), default=str)
        known = (body, _etag(body))
        svc.views[(*key, position)] = known
        while len(svc.views) > 256:
            svc.views.popitem(last=False)
    return _send(request, svc, *known)


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _send(request: Request, svc: Services, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "X-View-Position": str(svc.projector.position),
               "Cache-Control": "no-cache"}
    if etag in _tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


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
