"""`/v1/assistant/sessions/{session_id}`: the guarded assistant as SSE frames, and its sessions."""

from __future__ import annotations

import logging
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.errors import SessionNotFound
from sluicegate.memory.sessions import SessionStore
from sluicegate.pipeline.orchestrator import AUTO
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.server.auth import bearer, caller_user, require_key
from sluicegate.server.body import read_body
from sluicegate.server.context import request_context
from sluicegate.server.schemas import Open, error_responses
from sluicegate.server.sse import sse_response
from sluicegate.types import CompletionRequest, Message

log = logging.getLogger("sluicegate.server")

# The turn's door hands the bearer key to the pipeline (AUTHORIZE); the session endpoints check it here.
router = APIRouter(
    prefix="/v1/assistant",
    responses={**error_responses(400, 401, 403, 404, 408, 413, 415, 429, 503, 504)},
)
SESSION_ID = r"^[A-Za-z0-9_\-]{1,128}$"


class AssistantMessage(BaseModel):
    content: Annotated[str, Field(min_length=1, max_length=100_000)]


def _sessions(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.runtime.sessions
    return sessions


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
    body = await read_body(request, AssistantMessage)
    runtime = request.app.state.runtime
    role = runtime.config.conversation_role
    request.state.role = role
    # With routing on, a turn is `model: auto` (ARCHITECTURE §4): a look-up a tool can answer
    # needs no model; the rest go to the role for their class, or the conversation role.
    asked = AUTO if runtime.pipeline.stages.routing and runtime.config.assistant.routing else role
    turn = PipelineRequest(
        CompletionRequest(
            asked, (Message("user", body.content),), max_tokens=runtime.config.assistant.max_tokens
        ),
        endpoint="/v1/assistant",
        caller=Caller(secret=bearer(request)),
        session_id=session_id,
    )
    frames = runtime.pipeline.run(turn, request_context(request))
    return await sse_response(frames)


@router.post(
    "/sessions", response_model=None, responses={201: {"model": Open}}, dependencies=[Depends(require_key)]
)
async def create_session(request: Request) -> Response:
    """A new session with an id made by the server (unguessable), owned by the caller's key."""
    sessions = _sessions(request)
    session_id = sessions.new_id()
    await sessions.claim(session_id, caller_user(request))
    return Response(orjson.dumps({"session_id": session_id}), status_code=201, media_type="application/json")


@router.get(
    "/sessions/{session_id}",
    response_model=None,
    responses={200: {"model": Open}},
    dependencies=[Depends(require_key)],
)
async def get_session(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    """The session's turns, summary and entities; 404 unless it is the caller's."""
    session = await _sessions(request).owned(session_id, caller_user(request))
    if session is None:
        raise _not_found(session_id)
    return Response(orjson.dumps(session), media_type="application/json")


@router.delete(
    "/sessions/{session_id}",
    response_model=None,
    responses={200: {"model": Open}},
    dependencies=[Depends(require_key)],
)
async def delete_session(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    """Erase the caller's session; 404 unless it is theirs."""
    if not await _sessions(request).delete(session_id, caller_user(request)):
        raise _not_found(session_id)
    return Response(orjson.dumps({"deleted": True}), media_type="application/json")


def _not_found(session_id: str) -> SessionNotFound:
    # The same answer whether the session does not exist or belongs to another user.
    return SessionNotFound(f"No session '{session_id}' for this key.")
