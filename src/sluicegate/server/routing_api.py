"""`POST /v1/route` and `POST /v1/validate` (ARCHITECTURE §4): the routing decision and the
VALIDATION stage on their own, without executing anything else."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.calltrace import CallTrace
from sluicegate.errors import ModelNotFound
from sluicegate.pipeline.stages import RouteDecision, Stages
from sluicegate.server.auth import require_key
from sluicegate.server.body import read_body
from sluicegate.server.schemas import error_responses
from sluicegate.server.wire import ChatCompletionRequest

router = APIRouter()


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(max_length=200_000)]
    answer: Annotated[str, Field(max_length=200_000)]
    context: Annotated[str, Field(max_length=1_000_000)] = ""


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
    response_model=None,
    responses=error_responses(400, 401, 404, 413, 415),
    dependencies=[Depends(require_key)],
)
async def route(request: Request) -> Response:
    stages = _stages(request)
    body = await read_body(request, ChatCompletionRequest)
    assert stages.router is not None
    decision = await stages.router.decide(body.to_request(provider_model=body.model), CallTrace())
    return Response(orjson.dumps(decision_body(decision)), media_type="application/json")


@router.post(
    "/v1/validate",
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
