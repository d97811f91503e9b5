"""`POST /v1/route` and `POST /v1/validate` (ARCHITECTURE §4): the routing decision and the
VALIDATION stage on their own, without executing anything else."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.calltrace import CallTrace
from sluicegate.errors import ModelNotFound
from sluicegate.pipeline.orchestrator import AUTO
from sluicegate.pipeline.stages import RouteDecision, Stages
from sluicegate.server.auth import require_key
from sluicegate.server.body import read_body
from sluicegate.server.openai_api import CHAT_REQUEST_SCHEMA
from sluicegate.server.schemas import error_responses
from sluicegate.server.wire import ChatCompletionRequest

router = APIRouter()


def _body_schema(schema: dict[str, object]) -> dict[str, object]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No length of their own: the body's size limit (server.max_body_bytes) bounds them together.
    question: str
    answer: str
    context: str = ""


def _stages(request: Request) -> Stages:
    stages: Stages = request.app.state.runtime.pipeline.stages
    if stages.router is None:
        raise ModelNotFound("Routing is switched off (routing.enabled).", param="model")
    return stages


def decision_body(decision: RouteDecision) -> dict[str, object]:
    body: dict[str, object] = {"decision": decision.decision}
    if decision.kind == "tool":
        body["tool"] = decision.name
        body["arguments"] = decision.arguments
    else:
        body["role"] = decision.name
    body.update(
        confidence=round(decision.confidence, 4), stage=decision.stage, elapsed_ms=decision.elapsed_ms
    )
    return body


@router.post(
    "/v1/route",
    openapi_extra=CHAT_REQUEST_SCHEMA,
    response_model=None,
    responses=error_responses(400, 401, 404, 413, 415),
    dependencies=[Depends(require_key)],
)
async def route(request: Request) -> Response:
    stages = _stages(request)
    body = await read_body(request, ChatCompletionRequest)
    if body.model != AUTO:
        raise ModelNotFound(f"The router decides for model '{AUTO}', not '{body.model}'.", param="model")
    assert stages.router is not None
    decision = await stages.router.decide(body.to_request(provider_model=body.model), CallTrace())
    return Response(orjson.dumps(decision_body(decision)), media_type="application/json")


@router.post(
    "/v1/validate",
    openapi_extra=_body_schema(ValidateBody.model_json_schema()),
    response_model=None,
    responses=error_responses(400, 401, 404, 413, 415),
    dependencies=[Depends(require_key)],
)
async def validate(request: Request) -> Response:
    stages = _stages(request)
    body = await read_body(request, ValidateBody)
    if stages.validator is None:
        raise ModelNotFound("No validator is configured.", param="model")
    verdict = await stages.validator.validate(body.question, body.answer, body.context, CallTrace())
    result = {
        "verdict": "valid" if verdict.valid else "invalid",
        "reasons": verdict.reasons,
        "checks": verdict.checks,
    }
    return Response(orjson.dumps(result), media_type="application/json")
