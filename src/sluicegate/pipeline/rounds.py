"""LLM_CALL ⇄ TOOL_EXECUTION: the model answers; the gateway's own tools it calls answer it back,
for at most `max_tool_rounds` rounds, and the last round answers in words. A model that cannot
write the gateway's tool call (a small one, cut off mid-call) is asked again without tools rather
than failing the turn; a call of the client's own tools is the client's and fails as it came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from sluicegate.errors import UpstreamRejected
from sluicegate.pipeline.job import Job
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.render import FrameRenderer
from sluicegate.pipeline.stages import Stages
from sluicegate.pipeline.states import State
from sluicegate.types import Frame, Message, ToolCall, ToolCallFrame


class ModelRounds:
    def __init__(self, stacks: RoleStacks, stages: Stages, renderer: FrameRenderer) -> None:
        self.stacks = stacks
        self.stages = stages
        self._renderer = renderer

    async def run(self, job: Job) -> AsyncIterator[Frame]:
        """LLM_CALL ⇄ TOOL_EXECUTION: the model answers; tools it needs answer it back."""
        route, tools = job.ctx.route, self.stages.tools
        assert route is not None
        for round_number in range(1, self.stages.max_tool_rounds + 2):
            if job.server_tools and round_number > self.stages.max_tool_rounds:
                job.call = replace(job.call, tool_choice="none")  # the last round answers in words
            job.machine.move(State.LLM_CALL, f"{route.name}, round {round_number}")
            upstream = self.stacks.stream if job.request.stream else self.stacks.answer
            job.called, said_before = {}, len(job.shown)
            try:
                async for frame in self._renderer.frames(
                    job, upstream(route, job.call, job.ctx.call), guard=True
                ):
                    if not (job.server_tools and isinstance(frame, ToolCallFrame)):
                        yield frame  # the gateway's own tool calls are its business, not the client's
            except UpstreamRejected:
                # A model that cannot write the gateway's tool call (a small one, cut off mid-call)
                # answers again without tools instead of failing the turn; a client's tools fail.
                if not job.server_tools or job.call.tool_choice == "none" or len(job.shown) > said_before:
                    raise
                job.call = replace(job.call, tool_choice="none")
                continue
            if tools is None or not job.server_tools or job.finish == "content_filter":
                return
            job.machine.move(State.TOOL_EXECUTION)
            calls = tuple(
                ToolCall(f"call_{round_number}_{index}", name, arguments)
                for index, (name, arguments) in sorted(job.called.items())
            )
            results = await tools.run(job.call, calls, job.ctx.trace_id)
            if results is None or round_number > self.stages.max_tool_rounds:
                return
            job.tool_results += [result.content for result in results]  # VALIDATION checks against them
            answer = Message("assistant", "".join(job.shown[said_before:]), tool_calls=calls)
            job.call = replace(job.call, messages=(*job.call.messages, answer, *results))
            job.finish = "stop"
