"""Finished answers to repeated view requests, served before routing.

A ``GET`` of a cached view (a thread, a community's thread list, the listening report) is
answered by its route: bearer token, access checks, parameters, then the view's body from
the view cache (``api/http.py``). The route also leaves that answer here, under the exact
request that asked for it: path, query string and the digest of the bearer token. The same
request again gets the same answer from this cache, without routing, parameter validation or
dependency solving, as long as nothing the route relied on can have changed:

* the views are still at the position the body was built at (any event applied to the views
  by any process moves that position: the body is then built afresh);
* the bearer token is still live: checked on every request exactly as the routes check it
  (``api.services.current_principal``: expiry, and one read for a revocation by any
  process), so a revoked or expired token is never answered from here;
* the knowledge the route's checks used is still within its time to live: who may see the
  community (``visibility_ttl``). So a membership changed by another process stops being
  honoured exactly as soon as the routes themselves would stop honouring it;
* any dependency on the clock has not moved on (the report's "now" is the current whole
  second: its answer expires at the end of that second);
* nothing was recorded by this process since (``DialogueLedger.listeners`` clears the
  cache, as it clears the visibility cache).

Only successful view answers are kept, never errors, and each is keyed by its own token, so
nobody is ever answered with what someone else was allowed to see. ``If-None-Match`` is
evaluated on every request. Misses, other methods and other paths go to the app unchanged.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.tokens import digest_of

#: The most answers kept; the oldest go first.
MAX_ANSWERS = 4096


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    etag: str
    #: The views' position the body was built at.
    position: int
    #: ``time.monotonic()`` after which the answer may no longer be given.
    expires: float
    #: The route that answered first (the metrics label answers by their route).
    route: Any


Key = tuple[str, str, bytes, str]


def credential(authorization: str) -> str | None:
    """The digest of a bearer token in an ``Authorization`` header value (None without
    one): what a cached answer is keyed by, and what the principal cache is keyed by."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return digest_of(token)


class Answers:
    """The cache: answers by (root path, path, query string, token digest)."""

    def __init__(self, size: int = MAX_ANSWERS) -> None:
        self.size = size
        self.entries: OrderedDict[Key, Answer] = OrderedDict()

    def remember(self, scope: Scope, token_digest: str, answer: Answer) -> None:
        self.entries[_key(scope, token_digest)] = answer
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def find(self, scope: Scope, token_digest: str, position: int) -> Answer | None:
        key = _key(scope, token_digest)
        answer = self.entries.get(key)
        if answer is None:
            return None
        if answer.position != position or answer.expires <= time.monotonic():
            self.entries.pop(key, None)
            return None
        return answer

    def clear(self) -> None:
        self.entries.clear()


def view_answer(if_none_match: str | None, body: bytes, etag: str, position: int,
                ) -> Response:
    """A view's body with its strong ETag and the views' position; 304 when
    ``If-None-Match`` names the ETag."""
    headers = {"ETag": etag, "X-View-Position": str(position), "Cache-Control": "no-cache"}
    if if_none_match and etag in _tags(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def _key(scope: Scope, token_digest: str) -> Key:
    return (scope.get("root_path", ""), scope["path"], scope.get("query_string", b""),
            token_digest)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class AnswersMiddleware:
    """Answers a repeated ``GET`` of a view from :class:`Answers` (see the module's
    docstring for when); everything else goes to the app."""

    def __init__(self, app: ASGIApp) -> None:
        from api.services import current_principal  # (api.services imports this module)

        self.app = app
        self.current_principal = current_principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            svc = getattr(scope["app"].state, "services", None)
            authorization = _header(scope, b"authorization")
            token_digest = None if authorization is None else credential(authorization)
            if svc is not None and token_digest is not None:
                answer = svc.answers.find(scope, token_digest, svc.projector.position)
                if answer is not None and await self._live(svc, authorization, token_digest):
                    scope["route"] = answer.route
                    response = view_answer(_header(scope, b"if-none-match"), answer.body,
                                           answer.etag, answer.position)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _live(self, svc: Any, authorization: str | None, token_digest: str) -> bool:
        """Whether the token is live now; on a store error, False: the route then meets
        the same error and answers it as it answers every store error."""
        try:
            return await self.current_principal(svc, authorization or "",
                                                token_digest) is not None
        except Exception:
            return False
