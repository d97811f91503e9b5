"""Every error answers in OpenAI's shape, `{"error": {"message", "type", "code", "param"}}`,
with an honest status and never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from sluicegate.errors import AllProvidersFailed, GatewayError, StateError, StateUnavailable

log = logging.getLogger("sluicegate.server")

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": error.message,
        "type": error.error_type,
        "code": error.code,
        "param": error.param,
    }
    if isinstance(error, AllProvidersFailed):
        body["attempts"] = [
            {"provider": a.provider, "model": a.model, "error": a.error, "status": a.status}
            for a in error.attempts
        ]
    return {"error": body}


def error_response(error: GatewayError) -> Response:
    return Response(
        orjson.dumps(error_body(error)),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers(),
    )


def plain_error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = {
        "error": {
            "message": message,
            "type": _HTTP_TYPES.get(status, "server_error"),
            "code": code,
            "param": None,
        }
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    allowed: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:
            allowed |= set(getattr(route, "methods", None) or ())
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    async def gateway_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else None
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == 404 and request.scope.get("route") is None:
            # No route matched: say so in words a client can act on (OpenAI's /v1/responses,
            # /v1/completions, Anthropic's /v1/messages... are endpoints a client may try).
            message = f"The endpoint {request.method} {request.url.path} is not supported by this gateway."
            return plain_error(404, message, "endpoint_not_supported", headers)
        if exc.status_code == 405:
            # Every method any route on this path allows, not only the first route's.
            headers["allow"] = ", ".join(sorted(_allowed_methods(request)))
        return plain_error(exc.status_code, str(exc.detail), code, headers)

    async def validation_error(_: Request, exc: Exception) -> Response:
        from sluicegate.server.wire import validation_error as to_gateway_error

        assert isinstance(exc, RequestValidationError)
        return error_response(to_gateway_error(list(exc.errors())))

    async def state_error(_: Request, exc: Exception) -> Response:
        # Whatever needed the store (a key, a budget, a session) could not be had: an honest 503.
        log.error("state store failed: %s", exc)
        assert isinstance(exc, StateError)
        return error_response(StateUnavailable.of(exc))

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return internal_error()

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StateError, state_error)
    app.add_exception_handler(Exception, unexpected)


def internal_error() -> Response:
    return plain_error(
        500, "Internal error; the trace id in x-sluicegate-trace-id finds it in the logs.", "internal_error"
    )
