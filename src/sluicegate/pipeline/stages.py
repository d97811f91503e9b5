"""The named places of the pipeline that are empty by default (ARCHITECTURE §1): each is a port,
and a state the orchestrator enters only when something is plugged into it. Routing, tools,
validation and synthesis fill them; until then a request names its route and the model's
answer is the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from sluicegate.types import CompletionRequest, Message


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """ROUTING_DECISION: a deterministic tool answers (`tool`), or a role does (`role`)."""

    kind: Literal["tool", "role"]
    name: str
    reason: str
    decision: str = "explicit"  # the class of request (simple_tool_call, reasoning_required, ...)


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: str


class Router(Protocol):
    async def decide(self, request: CompletionRequest) -> RouteDecision | None:
        """None: the request's own `model` stands."""
        ...


class ToolAnswers(Protocol):
    async def answer(self, decision: RouteDecision, request: CompletionRequest) -> str:
        """TOOL_ONLY_EXECUTION: the answer from a deterministic tool, no LLM, no tokens."""
        ...


class ToolRunner(Protocol):
    async def run(self, request: CompletionRequest, answer: str) -> tuple[Message, ...] | None:
        """TOOL_EXECUTION: the messages that carry the tools' results back to the model (another
        LLM_CALL), or None when the answer needs no tool."""
        ...


class Validator(Protocol):
    async def validate(self, request: CompletionRequest, answer: str) -> Verdict: ...


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
