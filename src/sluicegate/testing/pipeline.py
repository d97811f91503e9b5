"""Driving the pipeline in process, as a door does: for tests and benchmarks that need no HTTP."""

from __future__ import annotations

from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.orchestrator import Orchestrator
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.types import Completion, CompletionRequest, Frame


async def ask(
    pipeline: Orchestrator,
    request: CompletionRequest,
    *,
    stream: bool = False,
    caller: Caller | None = None,
    session_id: str | None = None,
    context: RequestContext | None = None,
) -> tuple[Completion, RequestContext, list[Frame]]:
    """One request through the whole pipeline (a local caller unless told otherwise), its frames
    collected; failures raise as they would reach a door."""
    context = context or RequestContext()
    token = bind(context)
    try:
        asked = PipelineRequest(
            request,
            endpoint="test",
            caller=caller or Caller(local=True),
            stream=stream,
            session_id=session_id,
        )
        completion, frames = await pipeline.collect(asked, context)
    finally:
        unbind(token)
    return completion, context, frames
