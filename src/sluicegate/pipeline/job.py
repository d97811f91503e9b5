"""What the orchestrator keeps about one request while it runs: the request as the model gets it,
what the model said and what was delivered, the reservation, the calls. One per request, never
shared; only the orchestrator and its renderer write to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sluicegate.budgets import Reservation
from sluicegate.guardrails.rules import Rule
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.packs import DomainPack, PackTurn
from sluicegate.pipeline.request import PipelineRequest
from sluicegate.pipeline.states import StateMachine
from sluicegate.types import CompletionRequest, FinishReason, Usage


@dataclass
class Job:
    """What the orchestrator keeps about one request while it runs: its own, never shared."""

    request: PipelineRequest
    ctx: RequestContext
    machine: StateMachine
    call: CompletionRequest  # the request as the model gets it (history, prompt, budget cap)
    pack: DomainPack | None = None
    turn: PackTurn | None = None
    received: bool = False
    reservation: Reservation | None = None
    prompt_tokens: int = 0
    usage: Usage | None = None
    finish: FinishReason = "stop"
    said: list[str] = field(default_factory=list)  # what the model wrote
    shown: list[str] = field(default_factory=list)  # what passed the inline guard
    delivered: str = ""  # the token frames' text
    facts: list[tuple[int, int]] = field(default_factory=list)  # spans the pack wrote itself
    final: str = ""
    concluded: bool = False
    answered: bool = False  # concluded "ok": COMPLETED and its record follow the answer
    cache_key_request: CompletionRequest | None = None  # the request as the cache was asked
    called: dict[int, list[str]] = field(default_factory=dict)  # the model's calls: [name, arguments]
    # How the request ends when nothing is raised: "ok", or "validation_failed" (a safe answer
    # shipped in place of one that failed validation every time).
    outcome: str = "ok"
    # The gateway offered its own tools (TOOL_EXECUTION runs the model's calls; the client never
    # sees them).
    server_tools: bool = False
    new_session: bool = False  # MEMORY_LOAD opened the session for this turn
    tool_results: list[str] = field(default_factory=list)  # what the gateway's tools answered
    echoes: list[Rule] | None = None  # the request's PII values as rules (render.py), once known
