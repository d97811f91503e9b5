"""`POST /v1/generate/{schema}` and `GET /v1/schemas` (ARCHITECTURE §4): structured generation as
SSE — `element` frames as elements validate, then `complete` with the whole object — and the
registry of output schemas with their JSON schemas."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.pipeline.request import Caller
from sluicegate.server.auth import bearer, require_key
from sluicegate.server.body import read_body
from sluicegate.server.context import request_context
from sluicegate.server.schemas import Open, error_responses
from sluicegate.server.sse import sse_response
from sluicegate.structured.schemas import SCHEMAS, schema_named
from sluicegate.structured.workflow import StructuredRequest, StructuredWorkflow, fitted

router = APIRouter()


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Annotated[str, Field(min_length=1)]
    role: Annotated[str, Field(min_length=1, max_length=256)] | None = None


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": GenerateBody.model_json_schema()}},
    }
}


@router.get(
    "/v1/schemas", response_model=None, responses={200: {"model": Open}}, dependencies=[Depends(require_key)]
)
async def list_schemas() -> Response:
    data = [
        {
            "name": s.name,
            "description": s.description,
            "streamed": sorted(s.streamed),
            "json_schema": s.json_schema(),
        }
        for s in SCHEMAS.values()
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@router.post(
    "/v1/generate/{schema}",
    openapi_extra=_BODY,
    response_model=None,
    responses=error_responses(400, 401, 403, 404, 413, 415, 429, 503, 504),
)
async def generate(request: Request, schema: Annotated[str, PathParam(max_length=120)]) -> Response:
    chosen = schema_named(schema)
    body = await read_body(request, GenerateBody)
    runtime = request.app.state.runtime
    config = runtime.config
    role = body.role or ("reasoning" if "reasoning" in config.models else config.conversation_role)
    route = runtime.stacks.resolve(role)
    asked = fitted(StructuredRequest(chosen, body.input, role, Caller(secret=bearer(request))), route)
    workflow = StructuredWorkflow(
        runtime.pipeline, has_role=runtime.stacks.has_role, report=runtime.audit.emit
    )
    frames = workflow.run(asked, request_context(request))
    return await sse_response(frames)
