"""Reading a JSON body safely: bounded size, strict UTF-8, a clear 400 for anything else."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import Receive

from sluicegate.config.schema import ServerConfig
from sluicegate.errors import (
    ClientDisconnected,
    InvalidRequest,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)
from sluicegate.resilience.deadline import Deadline
from sluicegate.server.wire import validation_error

Body = TypeVar("Body", bound=BaseModel)


async def read_body(request: Request, shape: type[Body]) -> Body:
    """The JSON body read safely and validated as `shape`; what is wrong named in a 400."""
    raw = await read_json(request, request.app.state.runtime.config.server)
    try:
        return shape.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(list(exc.errors())) from None


async def read_json(request: Request, settings: ServerConfig) -> Any:
    limit = settings.max_body_bytes
    # Only application/json: a text/plain or form POST is what a foreign web page can send without
    # a CORS preflight, so accepting it would let any page a local user visits spend tokens.
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        shown = media_type or "none"
        raise UnsupportedMediaType(
            f"The request body must be JSON sent as Content-Type: application/json (got {shown})."
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise InvalidRequest("Invalid Content-Length header.") from None
        if declared_size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    try:
        # A body that trickles in (or never ends) must not hold a connection for ever.
        async with Deadline(settings.body_timeout_s):
            received = await _receive_body(request.receive, limit)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body was not received within {settings.body_timeout_s:g} s."
        ) from None
    if not received:
        raise InvalidRequest("The request body is empty; a JSON object is required.")
    try:
        return orjson.loads(received)  # checks UTF-8 as strictly as bytes.decode
    except orjson.JSONDecodeError as exc:
        try:
            received.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise InvalidRequest(f"The request body is not valid UTF-8 (byte {bad.start}).") from None
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None


async def _receive_body(receive: Receive, limit: int) -> bytes:
    """The ASGI body messages, joined (Starlette's `Request.stream` is an async generator a piece;
    a body nearly always comes in one message)."""
    pieces: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("The client went away before its request body was read.")
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        pieces.append(piece)
        if not message.get("more_body", False):
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)
