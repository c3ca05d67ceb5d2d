"""Prometheus metrics: request counts and latency by route, events recorded, projection lag,
events parked."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The methods counted by name; any other is counted as "other", so made-up methods add no
#: series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("dialogue_ledger_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("dialogue_ledger_http_request_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                          2.5, 5, 10))
        self.events = Gauge("dialogue_ledger_events_recorded",
                            "The ledger's position: events recorded so far",
                            registry=self.registry)
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.lag = Gauge("dialogue_ledger_projection_lag_events",
                         "Events recorded that the views have not yet applied",
                         registry=self.registry)
        self.parked = Gauge("dialogue_ledger_projection_parked_events",
                            "Events the views could not apply, parked (see /readyz)",
                            registry=self.registry)

    def series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of a method, route and status,
        looked up once (``labels`` takes a lock and builds its key on every call)."""
        key = (method, route, status)
        found = self._series.get(key)
        if found is None:
            found = (self.requests.labels(method, route, str(status)),
                     self.latency.labels(method, route))
            self._series[key] = found
        return found

    def render(self, head: int, view_position: int, parked: int = 0) -> bytes:
        self.events.set(head)
        self.lag.set(max(0, head - view_position))
        self.parked.set(parked)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # Labels from a closed set: route templates (a path that matched none is
            # "unmatched") and the known methods, so no request can add series of its own.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            count, latency = self.metrics.series(method if method in METHODS else "other",
                                                 route, status["code"])
            count.inc()
            latency.observe(time.perf_counter() - started)
