"""A trace id for every request: set before the endpoint runs, echoed in
`x-sluicegate-trace-id` on every response, errors included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluicegate.calltrace import CallTrace, end_trace, start_trace

TRACE_HEADER = b"x-sluicegate-trace-id"


class TraceIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = CallTrace()
        header = (TRACE_HEADER, trace.trace_id.encode())

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = start_trace(trace)
        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            end_trace(token)
