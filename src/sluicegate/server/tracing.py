"""Every request: its context (a trace id echoed in `x-sluicegate-trace-id` and bound into every
log line, the call record the provider stack reports into), an OpenTelemetry span when tracing is
on, and the request count and latency metrics."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.server.context import SCOPE_KEY
from sluicegate.server.errors import internal_error

log = logging.getLogger("sluicegate.server")

TRACE_HEADER = b"x-sluicegate-trace-id"


class ObservedRequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        trace = RequestContext()
        scope[SCOPE_KEY] = trace
        started = time.perf_counter()
        status = 500
        header = (TRACE_HEADER, trace.trace_id.encode())
        trace.span = runtime.telemetry.start_request(
            trace.trace_id, f"{scope['method']} {scope['path']}", {"http.method": scope["method"]}
        )

        started_response = False

        async def send_observed(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = bind(trace)
        log_context = structlog.contextvars.bind_contextvars(trace_id=trace.trace_id)
        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            # Starlette would answer from outside this middleware, without the trace id that finds
            # the traceback in the log: answer here instead.
            if started_response:
                raise
            log.exception("unhandled error")
            await internal_error()(scope, receive, send_observed)
        finally:
            structlog.contextvars.reset_contextvars(**log_context)
            unbind(token)
            route = _route_label(scope)
            role = str(scope.get("state", {}).get("role", "-"))
            metrics = runtime.metrics
            metrics.child(metrics.requests, route, role, str(status)).inc()
            metrics.child(metrics.latency, route, role).observe(time.perf_counter() - started)
            runtime.telemetry.end(trace.span, {"http.status_code": status, "sluicegate.role": role})


def _route_label(scope: Scope) -> str:
    """The matched route's template, never the raw path: labels must stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
