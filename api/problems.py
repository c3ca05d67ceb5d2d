"""Errors as RFC 9457 ``application/problem+json`` documents.

Every domain error has a stable ``type`` (``urn:dialogue-ledger:problem:<code>``) and its
``code``; validation errors list what is wrong with the request.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ledger.errors import LedgerError
from ledger.store import NothingRecorded

PROBLEM_TYPE = "urn:dialogue-ledger:problem:"
MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request", 401: "Unauthorised", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict",
    413: "Request body too large", 415: "Unsupported media type",
    422: "Unprocessable content", 503: "Service unavailable",
}
CODES = {400: "bad-request", 401: "unauthorised", 403: "forbidden", 404: "not-found",
         405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
         413: "body-too-large", 415: "unsupported-media-type", 422: "invalid-input",
         503: "unavailable"}


class Problem(Exception):
    """An error answered as a problem document."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, code: str, detail: str, *, instance: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + code, "title": TITLES.get(status, code),
                            "status": status, "detail": detail, "code": code}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=MEDIA_TYPE,
                    headers=headers)


def is_json(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, with or without parameters
    (such as ``charset``): the media types a request body is read as JSON from."""
    media = content_type.split(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _body_sent(request: Request) -> bool:
    """Whether the request came with a body (a length other than 0, or chunked)."""
    headers = request.headers
    return headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, error: LedgerError) -> Response:
        details = {k: v for k, v in error.as_dict().items() if k not in ("code", "message")}
        return problem_response(error.status, error.code, error.message,
                                instance=request.url.path, **details)

    @app.exception_handler(PersistenceError)
    async def store_error(request: Request, error: PersistenceError) -> Response:
        """The store timed out (a lock wait) or is unreachable. Only an error known to have
        come before any write (a read, or a command's ``NothingRecorded``) may say that
        nothing was recorded: any other error in a command may have followed its commit."""
        text = str(error).lower()
        code = "store-busy" if "lock" in text or "timeout" in text else "store-unavailable"
        if isinstance(error, NothingRecorded) or request.method in ("GET", "HEAD"):
            detail = ("the store could not complete the request; nothing was recorded; "
                      "retry later")
        else:
            detail = ("the store failed while the command ran: the command may have been "
                      "recorded; retry with the same Idempotency-Key, which answers the first "
                      "run's receipt if it was")
        return problem_response(503, code, detail, instance=request.url.path,
                                headers={"Retry-After": "1"})

    @app.exception_handler(Problem)
    async def problem(request: Request, error: Problem) -> Response:
        return problem_response(error.status, error.code, error.detail,
                                instance=request.url.path, headers=error.headers,
                                **error.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [{"location": list(e.get("loc", ())), "message": e.get("msg", ""),
                   "kind": e.get("type", "")} for e in error.errors()]
        if _body_sent(request) and not is_json(request.headers.get("content-type", "")) \
                and any(e["location"][:1] == ["body"] for e in errors):
            return problem_response(415, "unsupported-media-type",
                                    "send the request body as application/json",
                                    instance=request.url.path)
        if any(e["kind"] == "json_invalid" for e in errors):
            return problem_response(400, "malformed-json", "the request body is not valid JSON",
                                    instance=request.url.path, errors=errors)
        return problem_response(422, "invalid-input", "the request is not valid",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = CODES.get(error.status_code, "error")
        return problem_response(error.status_code, code, str(error.detail),
                                instance=request.url.path,
                                headers=dict(error.headers or {}))
