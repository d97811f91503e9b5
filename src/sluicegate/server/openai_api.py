"""`POST /v1/chat/completions` and `GET /v1/models`, OpenAI-compatible."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from sluicegate.errors import ModelNotFound
from sluicegate.pipeline.choices import choices
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.server.auth import bearer, require_key
from sluicegate.server.body import read_body
from sluicegate.server.chat_render import ChatAnswer, first_shown, stream_choices, stream_one, usage_body
from sluicegate.server.context import request_context, route_headers
from sluicegate.server.schemas import CHAT_RESPONSES, Open, error_responses
from sluicegate.server.wire import ChatCompletionRequest
from sluicegate.types import (
    CompleteFrame,
    Frame,
    TokenFrame,
    Usage,
)

log = logging.getLogger("sluicegate.server")
# The chat door hands the bearer key to the pipeline (AUTHORIZE); the model list checks it here.
router = APIRouter()

_BODY_SCHEMA = ChatCompletionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
# The body is read by hand (size limit, strict UTF-8, our 400s); its schema is documented here, and
# its nested models are added to the document's components through `request_components()`.
CHAT_REQUEST_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {k: v for k, v in _BODY_SCHEMA.items() if k != "$defs"}}},
    }
}


def request_components() -> dict[str, Any]:
    defs: dict[str, Any] = _BODY_SCHEMA.get("$defs", {})
    return defs


def _stacks(request: Request) -> RoleStacks:
    stacks: RoleStacks = request.app.state.runtime.stacks
    return stacks


@router.post(
    "/v1/chat/completions", openapi_extra=CHAT_REQUEST_SCHEMA, response_model=None, responses=CHAT_RESPONSES
)
async def chat_completions(request: Request) -> Response:
    runtime = request.app.state.runtime
    body = await read_body(request, ChatCompletionRequest)
    ctx = request_context(request)
    asked = PipelineRequest(
        body.to_request(provider_model=body.model),
        endpoint="/v1/chat/completions",
        caller=Caller(secret=bearer(request)),
        stream=body.stream,
    )
    if body.n > 1:
        return await _several(request, body, asked, ctx)
    frames = runtime.pipeline.run(asked, ctx)
    answer = ChatAnswer(body, ctx)
    # Until the first token (or the end), failures keep their status code.
    try:
        first = await answer.until_first_token(frames)
    except BaseException:
        await frames.aclose()
        raise
    finally:
        if ctx.role is not None:  # metrics label roles, never arbitrary names a client sent
            request.state.role = ctx.role
    headers = route_headers(ctx, body.model)
    if not body.stream:
        async for frame in frames:
            answer.take(frame)
            if isinstance(frame, CompleteFrame):
                break
        return AnswerFirst(orjson.dumps(answer.completion_body()), frames, headers)
    if isinstance(first, TokenFrame):
        runtime.metrics.ttft.labels(ctx.role or body.model).observe(time.monotonic() - ctx.started)
    headers["cache-control"] = "no-cache"
    return StreamingResponse(
        stream_one(answer, first, frames), media_type="text/event-stream", headers=headers
    )


class AnswerFirst(Response):
    """A whole answer, sent before its frames run to their end: what follows the complete frame is
    the request's record (`pipeline/ending.py`), the trail's and the metrics' business, not the
    client's."""

    def __init__(self, content: bytes, rest: AsyncGenerator[Frame, None], headers: dict[str, str]) -> None:
        super().__init__(content, media_type="application/json", headers=headers)
        self._rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            async for _ in self._rest:  # no frame follows a complete frame
                pass


chat_route = next(
    route for route in router.routes if isinstance(route, APIRoute) and route.endpoint is chat_completions
)


@router.get(
    "/v1/models",
    response_model=None,
    responses={200: {"model": Open}, **error_responses(400, 401)},
    dependencies=[Depends(require_key)],
)
async def list_models(request: Request) -> Response:
    return Response(
        orjson.dumps({"object": "list", "data": _model_entries(_stacks(request))}),
        media_type="application/json",
    )


@router.get(
    "/v1/models/{model:path}",
    response_model=None,
    responses={200: {"model": Open}, **error_responses(401, 404)},
    dependencies=[Depends(require_key)],
)
async def retrieve_model(request: Request, model: str) -> Response:
    """One entry of the list (the official client's `models.retrieve`); ids may hold a slash."""
    service = _stacks(request)
    entry = next((e for e in _model_entries(service) if e["id"] == model), None)
    if entry is None:
        service.resolve(model)  # raises the 404 that names what may be asked for
        raise ModelNotFound(f"The model '{model}' does not exist.", param="model")
    return Response(orjson.dumps(entry), media_type="application/json")


def _model_entries(service: RoleStacks) -> list[dict[str, Any]]:
    roles = service.roles
    data: list[dict[str, Any]] = [
        {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "sluicegate",
            "x_sluicegate": {"kind": "role", "use": [t.label for t in spec.targets]},
        }
        for name, spec in roles.roles.items()
    ]
    data += [
        {
            "id": model_id,
            "object": "model",
            "created": 0,
            "owned_by": model_id.partition("/")[0],
            "x_sluicegate": {"kind": "model"},
        }
        for model_id in roles.model_ids
    ]
    return data


async def _several(
    request: Request, body: ChatCompletionRequest, asked: PipelineRequest, ctx: RequestContext
) -> Response:
    """`n > 1`: one pipeline run per choice (`pipeline/choices.py`), rendered as one answer."""
    contexts = [ctx, *(RequestContext(span=ctx.span) for _ in range(body.n - 1))]
    answers = [
        ChatAnswer(body, each, index=index, response_id=ctx.trace_id) for index, each in enumerate(contexts)
    ]
    frames = choices(request.app.state.runtime.pipeline, asked, contexts)
    try:
        first = await first_shown(frames, answers)
    except BaseException:
        await frames.aclose()
        raise
    finally:
        if ctx.role is not None:
            request.state.role = ctx.role
    headers = route_headers(ctx, body.model)
    if not body.stream:
        async for index, frame in frames:
            answers[index].take(frame)
        whole = answers[0].completion_body([answer.choice() for answer in answers])
        whole["usage"] = usage_body(sum((answer.usage for answer in answers), Usage()))
        whole["x_sluicegate"]["choices"] = [answer.extension() for answer in answers]
        return Response(orjson.dumps(whole), media_type="application/json", headers=headers)
    headers["cache-control"] = "no-cache"
    return StreamingResponse(
        stream_choices(answers, first, frames), media_type="text/event-stream", headers=headers
    )
