"""TOOL_ONLY_EXECUTION: the tool the router chose runs from the domain's registry, and its result
becomes the answer through the domain's templates — no model, no tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.pipeline.stages import RouteDecision, ToolAnswer
from sluicegate.routing.router import DomainTools
from sluicegate.types import CompletionRequest


@dataclass(frozen=True, slots=True)
class RegistryAnswers:
    tools: DomainTools

    async def answer(self, decision: RouteDecision, request: CompletionRequest) -> ToolAnswer:
        result = await self.tools.registry.call(decision.name, decision.arguments)
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        return ToolAnswer(self.tools.reply(result, question), result.as_json(), result.error)
