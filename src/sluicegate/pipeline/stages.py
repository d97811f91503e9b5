"""The named places of the pipeline that are empty by default (ARCHITECTURE §1): each is a port,
and a state the orchestrator enters only when something is plugged into it. Routing, tools,
validation and synthesis fill them; until then a request names its route and the model's
answer is the answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sluicegate.audit.events import RoutingDecision as RoutingDecisionEvent
from sluicegate.audit.events import ToolExecution
from sluicegate.calltrace import CallTrace
from sluicegate.types import CompletionRequest, Message, ToolCall, ToolSpec


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """ROUTING_DECISION: a deterministic tool answers (`tool`), or a role does (`role`)."""

    kind: Literal["tool", "role"]
    name: str
    reason: str
    decision: str = "explicit"  # the class of request (simple_tool_call, reasoning_required, ...)
    confidence: float = 1.0
    stage: str = "rules"  # rules | router_model | cache
    elapsed_ms: float = 0.0
    arguments: dict[str, Any] = field(default_factory=dict)  # the tool's

    def event(self) -> RoutingDecisionEvent:
        """The decision as its audit event."""
        return RoutingDecisionEvent(
            decision=self.decision,
            role=self.name if self.kind == "role" else None,
            tool=self.name if self.kind == "tool" else None,
            confidence=round(self.confidence, 4),
            stage=self.stage,
            elapsed_ms=self.elapsed_ms,
        )


class Router(Protocol):
    async def decide(self, request: CompletionRequest, call: CallTrace) -> RouteDecision:
        """Where a `model: auto` request goes; `call` records any model the decision asks."""
        ...


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    text: str  # the answer, from a template over the result
    result: str  # the tool's result, JSON
    error: str | None = None

    def event(self, decision: RouteDecision) -> ToolExecution:
        """The tool's run as its audit event (the router chose it)."""
        return ToolExecution(
            tool=decision.name,
            arguments=decision.arguments,
            result=self.result,
            error=self.error,
            by="router",
        )


class ToolAnswers(Protocol):
    async def answer(self, decision: RouteDecision, request: CompletionRequest) -> ToolAnswer:
        """TOOL_ONLY_EXECUTION: the answer from a deterministic tool, no LLM, no tokens."""
        ...


class ToolRunner(Protocol):
    """The gateway's own tools (a domain's registry): offered to the model on routed requests
    whose client offered none, and run here when the model calls them."""

    def specs(self) -> tuple[ToolSpec, ...]: ...

    async def run(
        self, request: CompletionRequest, calls: Sequence[ToolCall], trace_id: str
    ) -> tuple[Message, ...] | None:
        """TOOL_EXECUTION: the tool messages that carry the results back to the model (another
        LLM_CALL), or None when the answer needs no tool."""
        ...


class Verdict(Protocol):
    @property
    def valid(self) -> bool: ...

    @property
    def reasons(self) -> list[str]: ...

    @property
    def checks(self) -> list[str]: ...


class Validator(Protocol):
    async def validate(self, question: str, answer: str, context: str, call: CallTrace) -> Verdict:
        """VALIDATION: whether `answer` to `question` holds against `context` (tool results,
        reference text; empty when there is none)."""
        ...


class Synthesizer(Protocol):
    async def compose(self, request: CompletionRequest, answer: str) -> str:
        """SYNTHESIS: the answer as it ships (a replacement of what was streamed, if different)."""
        ...


@dataclass(frozen=True, slots=True)
class Stages:
    router: Router | None = None
    tool_answers: ToolAnswers | None = None
    tools: ToolRunner | None = None
    validator: Validator | None = None
    synthesizer: Synthesizer | None = None
    # LLM_CALL ⇄ TOOL_EXECUTION rounds at most, so a model that keeps asking cannot loop forever.
    max_tool_rounds: int = 4

    @property
    def routing(self) -> bool:
        return self.router is not None
