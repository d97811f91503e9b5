"""The busiest door, `POST /v1/chat/completions`, served without the framework's per-request
layers.

FastAPI wraps every request in its own middlewares (server errors, exception handlers, an exit
stack, a body limit, telemetry) and then finds the route by trying each one, and builds the
endpoint's arguments through dependency injection: about 130 µs of CPU a request on the bench
machine, more than the rest of a plain gateway hop together (benchmarks/results/compare.json).
The chat door needs none of it: it reads its own body (`server/body.py`) and maps its own errors.
So the application answers that one method and path itself, through the same chain of our own
middlewares (trace context, host and origin guard, CORS where configured) and the same exception
handlers as every other route; the route stays registered, for the OpenAPI document and for any
request the exact match does not take (another method, a trailing slash).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[ASGIApp], ASGIApp]
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class GatewayApp(FastAPI):
    """FastAPI, with some routes answered directly (`serve_directly`)."""

    def __init__(self, **settings: object) -> None:
        super().__init__(**settings)  # type: ignore[arg-type]
        self._direct: dict[tuple[str, str], tuple[ASGIApp, APIRoute]] = {}

    def serve_directly(self, route: APIRoute, middlewares: list[Wrap]) -> None:
        """Answer the route's method and path with its endpoint (which takes the `Request` and
        returns the `Response`), inside `middlewares` (outermost first) and the app's exception
        handlers. The route stays included too: it documents the door and names its metrics."""
        chain: ASGIApp = _Endpoint(self, route.endpoint)
        for wrap in reversed(middlewares):
            chain = wrap(chain)
        for method in route.methods or ():
            self._direct[(method, route.path)] = (chain, route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            direct = self._direct.get((scope["method"], scope["path"]))
            if direct is not None:
                scope["app"] = self
                scope["route"] = direct[1]
                await direct[0](scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _Endpoint:
    """The endpoint as an ASGI app. An exception it raises (before it returns its response, so
    before anything is sent) becomes the response of the app's handler for it (the nearest class
    in its MRO), as Starlette's exception middleware would answer; one with no handler but
    `Exception`'s goes on up, to the observing middleware's 500. A streamed response's errors
    are its own to send, as on any route."""

    def __init__(self, app: FastAPI, endpoint: Endpoint) -> None:
        self._app = app
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        handlers = self._app.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None
