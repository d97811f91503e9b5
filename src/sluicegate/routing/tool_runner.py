"""TOOL_EXECUTION for the gateway's own tools: a routed request's model calls the domain's
registry, each call runs here, and each result goes back fenced (untrusted data, never
instructions) in a tool message; every call and its result is an audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluicegate.audit.events import Payload, ToolExecution
from sluicegate.guardrails.fence import FenceWrapper
from sluicegate.routing.router import DomainTools
from sluicegate.types import CompletionRequest, Message, ToolCall, ToolSpec

RESULT_BUDGET_CHARS = 4000  # a result longer than this is cut (and says so) before the model reads it


@dataclass(frozen=True, slots=True)
class RegistryRunner:
    tools: DomainTools
    report: Callable[[str, Payload], None]  # (trace id, event): the audit trail's emit

    def specs(self) -> tuple[ToolSpec, ...]:
        return self.tools.registry.specs()

    async def run(
        self, request: CompletionRequest, calls: Sequence[ToolCall], trace_id: str
    ) -> tuple[Message, ...] | None:
        if not calls:
            return None
        fence = FenceWrapper()
        answers: list[Message] = []
        for call in calls:
            result = await self.tools.registry.call(call.name, call.arguments)
            text = result.as_json()
            self.report(
                trace_id,
                ToolExecution(
                    tool=call.name, arguments=result.arguments, result=text, error=result.error, by="model"
                ),
            )
            fenced = fence.wrap(text, source=f"tool:{call.name}", budget_chars=RESULT_BUDGET_CHARS)
            answers.append(Message("tool", f"{fence.instructions()}\n{fenced}", tool_call_id=call.id))
        return tuple(answers)
