"""`/v1/assistant/sessions/{session_id}`: the guarded assistant as SSE frames, and its sessions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sluicegate.assistant.pipeline import Assistant
from sluicegate.errors import GatewayError, SessionNotFound, StateError
from sluicegate.frames import error_frame, frame_data
from sluicegate.server.auth import caller_user, check_role, require_key
from sluicegate.server.body import read_json
from sluicegate.server.schemas import Open, error_responses
from sluicegate.server.wire import validation_error
from sluicegate.types import Frame, TokenFrame

log = logging.getLogger("sluicegate.server")

router = APIRouter(
    prefix="/v1/assistant",
    dependencies=[Depends(require_key)],
    responses={**error_responses(400, 401, 403, 404, 408, 413, 415, 429, 503, 504)},
)
SESSION_ID = r"^[A-Za-z0-9_\-]{1,128}$"


class AssistantMessage(BaseModel):
    content: Annotated[str, Field(min_length=1, max_length=100_000)]


def _assistant(request: Request) -> Assistant:
    assistant: Assistant = request.app.state.runtime.assistant
    return assistant


@router.post(
    "/sessions/{session_id}/messages",
    response_model=None,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AssistantMessage.model_json_schema()}},
        }
    },
    responses={
        200: {
            "description": "SSE frames: token, guardrail, card, correction, complete, error",
            "content": {"text/event-stream": {"schema": {}}},
        }
    },
)
async def post_message(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    raw = await read_json(request, request.app.state.runtime.config.server)
    try:
        body = AssistantMessage.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(list(exc.errors())) from None
    assistant = _assistant(request)
    request.state.role = assistant.role
    check_role(request, assistant.role)
    if not await assistant.sessions.claim(session_id, caller_user(request)):
        raise _not_found(session_id)
    frames = assistant.respond(session_id, body.content)
    return StreamingResponse(
        _sse(frames), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


async def _sse(frames: AsyncIterator[Frame]) -> AsyncIterator[bytes]:
    answered = False
    try:
        async for frame in frames:
            answered = answered or isinstance(frame, TokenFrame)
            yield _sse_event(frame)
    except (GatewayError, StateError) as exc:
        # The stream has begun (a role that is not configured, a budget not reserved, a session
        # that could not be saved): the refusal is a frame.
        if isinstance(exc, StateError):
            log.error("state store failed in the assistant: %s", exc)
        frame = error_frame(exc)
        if answered and isinstance(exc, StateError):
            # The model has answered and its tokens were counted: "nothing was spent" would be false.
            message = f"The answer above could not be saved to the session ({exc}); its tokens were spent."
            frame = replace(frame, message=message)
        yield _sse_event(frame)


def _sse_event(frame: Frame) -> bytes:
    return b"event: " + frame.event.encode() + b"\ndata: " + orjson.dumps(frame_data(frame)) + b"\n\n"


@router.post("/sessions", response_model=None, responses={201: {"model": Open}})
async def create_session(request: Request) -> Response:
    """A new session with an id made by the server (unguessable), owned by the caller's key."""
    sessions = _assistant(request).sessions
    session_id = sessions.new_id()
    await sessions.claim(session_id, caller_user(request))
    return Response(orjson.dumps({"session_id": session_id}), status_code=201, media_type="application/json")


@router.get("/sessions/{session_id}", response_model=None, responses={200: {"model": Open}})
async def get_session(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    """The session's turns, summary and entities; 404 unless it is the caller's."""
    session = await _assistant(request).sessions.owned(session_id, caller_user(request))
    if session is None:
        raise _not_found(session_id)
    return Response(orjson.dumps(session), media_type="application/json")


@router.delete("/sessions/{session_id}", response_model=None, responses={200: {"model": Open}})
async def delete_session(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    """Erase the caller's session; 404 unless it is theirs."""
    if not await _assistant(request).sessions.delete(session_id, caller_user(request)):
        raise _not_found(session_id)
    return Response(orjson.dumps({"deleted": True}), media_type="application/json")


def _not_found(session_id: str) -> SessionNotFound:
    # The same answer whether the session does not exist or belongs to another user.
    return SessionNotFound(f"No session '{session_id}' for this key.")
