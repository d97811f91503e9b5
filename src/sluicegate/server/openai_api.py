"""`POST /v1/chat/completions` and `GET /v1/models`, OpenAI-compatible."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sluicegate.calltrace import CallTrace, current_trace
from sluicegate.errors import GatewayError, ModelNotFound
from sluicegate.providers.base import close_stream
from sluicegate.server.auth import check_role, require_key
from sluicegate.server.body import read_json
from sluicegate.server.errors import error_body
from sluicegate.server.schemas import CHAT_RESPONSES, Open, error_responses
from sluicegate.server.wire import ChatCompletionRequest, validation_error
from sluicegate.service import ChatService
from sluicegate.types import Chunk, Completion, Usage

log = logging.getLogger("sluicegate.server")
router = APIRouter(dependencies=[Depends(require_key)])

_BODY_SCHEMA = ChatCompletionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
# The body is read by hand (size limit, strict UTF-8, our 400s); its schema is documented here, and
# its nested models are added to the document's components through `request_components()`.
_REQUEST_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {k: v for k, v in _BODY_SCHEMA.items() if k != "$defs"}}},
    }
}


def request_components() -> dict[str, Any]:
    defs: dict[str, Any] = _BODY_SCHEMA.get("$defs", {})
    return defs


def _chat(request: Request) -> ChatService:
    service: ChatService = request.app.state.runtime.chat
    return service


@router.post(
    "/v1/chat/completions", openapi_extra=_REQUEST_SCHEMA, response_model=None, responses=CHAT_RESPONSES
)
async def chat_completions(request: Request) -> Response:
    raw = await read_json(request, request.app.state.runtime.config.server)
    try:
        body = ChatCompletionRequest.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(list(exc.errors())) from None
    service = _chat(request)
    route = service.resolve(body.model)
    request.state.role = route.name
    check_role(request, route.name)
    call = body.to_request(provider_model=body.model)
    headers = {"x-sluicegate-route": f"explicit/{route.name}"}
    assistant = request.app.state.runtime.assistant
    if not body.stream:
        completion = await service.complete(route, call)
        current_trace().corrections = await assistant.findings(completion.text)
        _cache_header(headers)
        return Response(
            orjson.dumps(_completion_body(body, completion, current_trace())),
            media_type="application/json",
            headers=headers,
        )
    chunks = service.stream(route, call)
    # Wait for the first chunk before answering: errors before any token keep their status code.
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = Chunk(finish_reason="stop", usage=Usage())
    if first.text:
        elapsed = time.monotonic() - current_trace().started
        request.app.state.runtime.metrics.ttft.labels(route.name).observe(elapsed)
    headers["cache-control"] = "no-cache"
    _cache_header(headers)
    return StreamingResponse(
        _sse(body, first, chunks, current_trace(), assistant.findings),
        media_type="text/event-stream",
        headers=headers,
    )


@router.get("/v1/models", response_model=None, responses={200: {"model": Open}, **error_responses(400, 401)})
async def list_models(request: Request) -> Response:
    return Response(
        orjson.dumps({"object": "list", "data": _model_entries(_chat(request))}),
        media_type="application/json",
    )


@router.get(
    "/v1/models/{model:path}",
    response_model=None,
    responses={200: {"model": Open}, **error_responses(401, 404)},
)
async def retrieve_model(request: Request, model: str) -> Response:
    """One entry of the list (the official client's `models.retrieve`); ids may hold a slash."""
    service = _chat(request)
    entry = next((e for e in _model_entries(service) if e["id"] == model), None)
    if entry is None:
        service.resolve(model)  # raises the 404 that names what may be asked for
        raise ModelNotFound(f"The model '{model}' does not exist.", param="model")
    return Response(orjson.dumps(entry), media_type="application/json")


def _model_entries(service: ChatService) -> list[dict[str, Any]]:
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


def _cache_header(headers: dict[str, str]) -> None:
    cache = current_trace().cache
    if cache is not None:
        headers["x-sluicegate-cache"] = cache


def _completion_body(body: ChatCompletionRequest, completion: Completion, trace: CallTrace) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{trace.trace_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "finish_reason": completion.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _usage(completion.usage),
        "x_sluicegate": _extension(trace),
    }


async def _sse(
    body: ChatCompletionRequest,
    first: Chunk,
    rest: AsyncIterator[Chunk],
    trace: CallTrace,
    findings: Callable[[str], Awaitable[list[dict[str, Any]]]],
) -> AsyncIterator[bytes]:
    frame = _ChunkFrames(body, trace)
    yield frame.delta({"role": "assistant", "content": ""})
    chunk: Chunk | None = first
    said: list[str] = []
    try:
        while chunk is not None:
            if chunk.text:
                said.append(chunk.text)
                yield frame.delta({"content": chunk.text})
            if chunk.finish_reason is not None:
                # The text is already with the client: post-stream findings ride on the last chunk.
                trace.corrections = await findings("".join(said))
                yield frame.finish(chunk)
                if body.include_usage:
                    yield frame.usage(chunk.usage or Usage())
                yield b"data: [DONE]\n\n"
                return
            chunk = await anext(rest, None)
    except GatewayError as exc:
        log.warning("stream failed after it started: %s", exc.message)
        yield b"data: " + orjson.dumps(error_body(exc)) + b"\n\n"
    finally:
        await close_stream(rest)


class _ChunkFrames:
    def __init__(self, body: ChatCompletionRequest, trace: CallTrace) -> None:
        self._trace = trace
        self._base = {
            "id": f"chatcmpl-{trace.trace_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.model,
        }

    def delta(self, delta: dict[str, Any]) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
        return self._event({**self._base, "choices": [choice]})

    def finish(self, chunk: Chunk) -> bytes:
        choice = {"index": 0, "delta": {}, "finish_reason": chunk.finish_reason, "logprobs": None}
        return self._event({**self._base, "choices": [choice], "x_sluicegate": _extension(self._trace)})

    def usage(self, usage: Usage) -> bytes:
        return self._event({**self._base, "choices": [], "usage": _usage(usage)})

    @staticmethod
    def _event(data: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(data) + b"\n\n"


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _extension(trace: CallTrace) -> dict[str, Any]:
    """sluicegate's own facts about the call; official clients ignore unknown fields."""
    return {
        "trace_id": trace.trace_id,
        "served_by": trace.served_by,
        "guardrails": list(trace.guardrails),
        "corrections": list(trace.corrections),
        "failover": [
            {"from": f.from_target, "to": f.to_target, "error": f.error, "after_chars": f.after_chars}
            for f in trace.failovers
        ],
    }
