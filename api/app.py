"""The HTTP API: ``create_app()`` builds it on the configured store.

The eventsourcing library is synchronous: most endpoints that touch the store are plain
``def``s, which FastAPI runs in its thread pool, so the event loop is never blocked. The
busiest are ``async def``s that answer from memory (tokens, visibility, view bodies) and go to
the thread pool only on a miss, and replies wait for their command on the event loop
(``svc.commands.run``); the live event stream reads the store through
``asyncio.to_thread``. Commands, and the projector that follows them, run in a command
process of the API's own (``api/commands.py``). Repeated view requests are answered before
routing (``api/answers.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.responses import ORJSONResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api import problems
from api.answers import AnswersMiddleware
from api.commands import Mode, StoppedWhileStarting, start_commands
from api.limits import BodyLimitMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.routes import (
    audit,
    communities,
    events,
    listening,
    moderation,
    nominations,
    reports,
    system,
    threads,
)
from api.routes.events import CommunityIndex
from api.services import Services
from ledger.application import DialogueLedger
from projections.queries import ViewReader
from projections.report import ListeningReport
from projections.runner import Projector

log = logging.getLogger(__name__)

DEFAULT_BODY_LIMIT = 64 * 1024
#: The routes' modules. Routes are matched in order, one by one: the busiest first (no two
#: paths overlap, so the order decides nothing else).
ROUTES = (threads, reports, system, communities, nominations, listening, moderation, events,
          audit)

DESCRIPTION = """
Dialogue Ledger records an organisation's dialogue with its community as immutable events,
and shows whether the organisation listened and responded.

* **Authentication**: `Authorization: Bearer <token>`; tokens are issued with
  `dialogue-ledger token create --person HANDLE --role member|representative|moderator|auditor`.
* **Commands** (`POST`/`PUT`) answer a receipt with the ledger `position` of their last event.
  Send an `Idempotency-Key` header to make a retry safe.
* **Reads** accept `min_position` (read your own writes), send an `ETag` and answer
  `If-None-Match` with 304; lists are paged with the `next` cursor (`after`).
* **Errors** are RFC 9457 `application/problem+json` documents with a stable `type` per error.
* Nothing can alter or delete a recorded event: there is no such endpoint.
"""


def create_app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (several workers): configured by the environment,
    projecting in-process unless ``DIALOGUE_LEDGER_PROJECTOR=none``."""
    return create_app(follow=os.environ.get("DIALOGUE_LEDGER_PROJECTOR") != "none")


def create_app(env: Mapping[str, str] | None = None, *, follow: bool = True,
               body_limit: int = DEFAULT_BODY_LIMIT, commands: Mode = "process") -> FastAPI:
    """The API over the store configured by ``env`` (and the environment). Commands run in
    a command process of the API's own (``commands="process"``, see ``api/commands.py``)
    or in this process (``"inline"``). With ``follow``, the API keeps the views current
    itself, where its commands run; without, a separate ``dialogue-ledger project`` worker
    does, and this process watches the positions it reaches (for ``min_position``)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = DialogueLedger(env)
        projector = Projector(ledger)
        try:
            started = start_commands(env, ledger, projector, follow=follow, mode=commands)
        except StoppedWhileStarting:  # the server stops before it serves: not a failure
            log.info("asked to stop while starting: not starting")
            ledger.close()
            yield
            return
        svc = Services(ledger=ledger, projector=projector, reader=ViewReader(projector),
                       report=ListeningReport(projector), commands=started)
        app.state.services = svc
        ledger.listeners.append(lambda position: _forget(svc))
        app.state.community_index = CommunityIndex(svc)
        try:
            yield
        finally:
            svc.commands.close()
            projector.stop()
            ledger.close()

    app = FastAPI(title="Dialogue Ledger", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan, default_response_class=ORJSONResponse)
    app.state.metrics = metrics
    problems.install(app)
    for module in ROUTES:
        # The routes themselves, not ``include_router``: FastAPI 0.16x matches an included
        # router's routes through a wrapper, twice per request. Each route already carries
        # its router's prefix and tags; the routers have no dependencies of their own.
        app.router.routes.extend(module.router.routes)
    _document_as_answered(app, [r for m in ROUTES for r in m.router.routes])
    app.add_middleware(BodyLimitMiddleware, max_bytes=body_limit)
    app.add_middleware(AnswersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _document_as_answered(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Three corrections to the OpenAPI document FastAPI generates:

    * it drops every null from the examples (fastapi#5559), so a view's example would lose
      its null-valued keys: the routes' examples are put back as written;
    * it documents every response as ``application/json`` as well as the media types a
      route declares (a problem document's schema goes there, an export's 200 gets an empty
      JSON entry): where a route declares its media types and JSON is not one of them, the
      JSON entry goes, and its schema moves to the declared types that have none;
    * it documents optional parameters as nullable: they are only optional (``_not_null``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for route in routes:
            if not isinstance(route, APIRoute):
                continue
            for status, response in route.responses.items():
                declared = response.get("content", {})
                for method in route.methods or ():
                    shown = document["paths"][route.path_format][method.lower()][
                        "responses"][str(status)].get("content", {})
                    if declared and "application/json" not in declared:
                        generated = shown.pop("application/json", {})
                        for media in declared:
                            if "schema" in generated and "schema" not in shown[media]:
                                shown[media]["schema"] = generated["schema"]
                    for media, entry in declared.items():
                        shown[media].update({k: jsonable_encoder(entry[k])
                                             for k in ("example", "examples") if k in entry})
        for operations in document["paths"].values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    _not_null(parameter["schema"])
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _not_null(schema: dict[str, Any]) -> None:
    """An optional parameter is left out, never sent as null (a query string or a header
    has no null): FastAPI documents ``int | None`` as "integer or null"; it is "integer"."""
    kinds = schema.get("anyOf")
    if kinds and {"type": "null"} in kinds:
        rest = [kind for kind in kinds if kind != {"type": "null"}]
        del schema["anyOf"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest


def _forget(svc: Services) -> None:
    """Whatever this process records may change who sees what: look afresh."""
    svc.visibility.clear()
    svc.answers.clear()
