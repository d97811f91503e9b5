"""VALIDATION with corrective retries (seed 001 §2.6): an INVALID answer goes back to LLM_CALL
with a prompt that carries the reasons, at most `routing.max_validation_retries` times; then the
request ends FAILED with the configured safe answer in place of the last one. The answer that
ships replaces what was streamed with one correction frame (the orchestrator makes it)."""

from __future__ import annotations

from dataclasses import replace

from sluicegate.audit.events import ValidationVerdict
from sluicegate.calltrace import CallTrace
from sluicegate.config.routing import RoutingConfig
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.job import Job
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.render import FrameRenderer
from sluicegate.pipeline.stages import Validator
from sluicegate.pipeline.states import State
from sluicegate.types import Message, Usage

CORRECTIVE_PROMPT = (
    "Your previous answer was rejected by validation for these reasons:\n{reasons}\n"
    "Answer the question again. State only what you can support; do not invent numbers, names or ids."
)


class ValidationLoop:
    def __init__(
        self,
        validator: Validator | None,
        stacks: RoleStacks,
        renderer: FrameRenderer,
        recorder: Recorder,
        config: RoutingConfig,
    ) -> None:
        self._validator = validator
        self._stacks = stacks
        self._renderer = renderer
        self._recorder = recorder
        self._config = config

    async def run(self, job: Job) -> str:
        """The answer that ships: the first one that validates, or the safe answer."""
        assert self._validator is not None
        assert job.ctx.route is not None
        question = job.request.completion.messages[-1].content
        answer = job.final
        for attempt in range(self._config.max_validation_retries + 1):
            job.machine.move(State.VALIDATION, f"attempt {attempt}")
            # The validator's own call record: the answer's `served_by` and attempts stay its own.
            context = "\n".join(job.tool_results)  # what the answer was given to work from
            verdict = await self._validator.validate(
                question, answer, context, CallTrace(trace_id=job.ctx.trace_id)
            )
            self._recorder.audit.emit(
                job.ctx.trace_id,
                ValidationVerdict(
                    verdict="valid" if verdict.valid else "invalid",
                    reasons=verdict.reasons,
                    checks=verdict.checks,
                    attempt=attempt,
                ),
            )
            if verdict.valid:
                return answer
            if attempt == self._config.max_validation_retries:
                break
            job.machine.move(
                State.LLM_CALL, f"corrective retry {attempt + 1}: {'; '.join(verdict.reasons)[:200]}"
            )
            answer = await self._corrected(job, answer, verdict.reasons)
        job.outcome = "validation_failed"
        return self._config.safe_answer

    async def _corrected(self, job: Job, rejected: str, reasons: list[str]) -> str:
        route = job.ctx.route
        assert route is not None
        told = CORRECTIVE_PROMPT.format(reasons="\n".join(f"- {reason}" for reason in reasons))
        request = replace(
            job.call,
            messages=(*job.call.messages, Message("assistant", rejected), Message("user", told)),
        )
        chunk = await anext(aiter(self._stacks.answer(route, request, job.ctx.call)))
        if chunk.usage is not None:
            job.usage = (job.usage or Usage()) + chunk.usage
        job.said.append(chunk.text)
        return self._renderer.guard_whole(job, chunk.text)
