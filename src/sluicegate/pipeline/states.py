"""The orchestrator's states and the one table of moves between them (ARCHITECTURE §1, seed 001
§2.6). A stage that is off is not entered, so the table links each state to the next one in
order and to the later ones that an off stage can leave next; FAILED is reachable from every
state that is not an end. A move the table does not declare is a defect: `IllegalTransition`.

Every move is reported (the orchestrator makes it an audit event with the trace id, the reason
and the time since the request was received).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sluicegate.errors import IllegalTransition


class State(StrEnum):
    RECEIVED = "RECEIVED"
    AUTHORIZE = "AUTHORIZE"  # the key, then the role it may use
    MEMORY_LOAD = "MEMORY_LOAD"  # a conversation's session: claimed for its owner, history read
    TIER0_GATE = "TIER0_GATE"  # declarative refusals before any token is spent
    ROUTING_DECISION = "ROUTING_DECISION"  # `model: auto`: the router's class and route
    TOOL_ONLY_EXECUTION = "TOOL_ONLY_EXECUTION"  # a deterministic tool answers, no LLM
    MODEL_SELECTION = "MODEL_SELECTION"  # the route: a role's chain or a provider/model
    RETRIEVAL = "RETRIEVAL"  # facts for the prompt (the domain pack's catalog), fenced
    CACHE_LOOKUP = "CACHE_LOOKUP"
    BUDGET_RESERVE = "BUDGET_RESERVE"
    LLM_CALL = "LLM_CALL"  # the route's provider stack; each chunk through the inline guard
    TOOL_EXECUTION = "TOOL_EXECUTION"  # empty by default: tools the model asked for
    POST_STREAM = "POST_STREAM"  # the domain pack's checks of the whole answer: corrections
    VALIDATION = "VALIDATION"  # a routed answer checked before it ships; INVALID → LLM_CALL
    SYNTHESIS = "SYNTHESIS"  # empty by default: the final answer composed from the parts
    BUDGET_SETTLE = "BUDGET_SETTLE"  # the real usage committed
    CACHE_STORE = "CACHE_STORE"
    MEMORY_UPDATE = "MEMORY_UPDATE"  # the turn saved to its session
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


S = State
_AFTER_ANSWER = (S.BUDGET_SETTLE, S.CACHE_STORE, S.MEMORY_UPDATE, S.COMPLETED)

TRANSITIONS: dict[State, frozenset[State]] = {
    # Any stage may fail, or its caller leave while it runs: FAILED from every state but the ends
    # (and RECEIVED, which only ever moves on to AUTHORIZE).
    state: frozenset(targets)
    | ({S.FAILED} if state not in (S.RECEIVED, S.COMPLETED, S.FAILED) else frozenset())
    for state, targets in {
        S.RECEIVED: {S.AUTHORIZE},
        S.AUTHORIZE: {S.MEMORY_LOAD, S.TIER0_GATE, S.ROUTING_DECISION, S.MODEL_SELECTION},
        S.MEMORY_LOAD: {S.TIER0_GATE, S.ROUTING_DECISION, S.MODEL_SELECTION},
        S.TIER0_GATE: {S.ROUTING_DECISION, S.MODEL_SELECTION},
        S.ROUTING_DECISION: {S.TOOL_ONLY_EXECUTION, S.MODEL_SELECTION},
        S.TOOL_ONLY_EXECUTION: {S.MEMORY_UPDATE, S.COMPLETED},
        S.MODEL_SELECTION: {S.RETRIEVAL, S.CACHE_LOOKUP, S.BUDGET_RESERVE, S.LLM_CALL},
        S.RETRIEVAL: {S.CACHE_LOOKUP, S.BUDGET_RESERVE, S.LLM_CALL},
        # A hit is the answer: its checks, then the turn saved.
        S.CACHE_LOOKUP: {
            S.BUDGET_RESERVE,
            S.LLM_CALL,
            S.POST_STREAM,
            S.VALIDATION,
            S.SYNTHESIS,
            S.MEMORY_UPDATE,
            S.COMPLETED,
        },
        S.BUDGET_RESERVE: {S.LLM_CALL},
        # LLM_CALL again: a round whose call of the gateway's tools the model could not write,
        # asked again without tools.
        S.LLM_CALL: {S.LLM_CALL, S.TOOL_EXECUTION, S.POST_STREAM, S.VALIDATION, S.SYNTHESIS, *_AFTER_ANSWER},
        # The tools' results go back to the model (LLM_CALL ⇄ TOOL_EXECUTION).
        S.TOOL_EXECUTION: {S.LLM_CALL, S.POST_STREAM, S.VALIDATION, S.SYNTHESIS, *_AFTER_ANSWER},
        S.POST_STREAM: {S.VALIDATION, S.SYNTHESIS, *_AFTER_ANSWER},
        # An INVALID answer goes back for a corrective retry (seed 001 §2.6).
        S.VALIDATION: {S.LLM_CALL, S.SYNTHESIS, *_AFTER_ANSWER},
        S.SYNTHESIS: set(_AFTER_ANSWER),
        S.BUDGET_SETTLE: {S.CACHE_STORE, S.MEMORY_UPDATE, S.COMPLETED},
        S.CACHE_STORE: {S.MEMORY_UPDATE, S.COMPLETED},
        S.MEMORY_UPDATE: {S.COMPLETED},
        S.COMPLETED: set(),
        S.FAILED: set(),
    }.items()
}


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: State
    to_state: State
    reason: str
    elapsed_ms: float


@dataclass(slots=True)
class StateMachine:
    """One request's way through the table; each move is told to `on_move` as it happens."""

    on_move: Callable[[Transition], None]
    started: float = field(default_factory=time.monotonic)
    state: State = State.RECEIVED
    history: list[Transition] = field(default_factory=list)

    def move(self, to: State, reason: str = "") -> None:
        if to not in TRANSITIONS[self.state]:
            raise IllegalTransition(self.state.value, to.value)
        elapsed_ms = round((time.monotonic() - self.started) * 1000, 3)
        transition = Transition(self.state, to, reason, elapsed_ms)
        self.state = to
        self.history.append(transition)
        self.on_move(transition)

    @property
    def ended(self) -> bool:
        return self.state in (State.COMPLETED, State.FAILED)

    def entered(self, state: State) -> bool:
        return any(t.to_state is state for t in self.history)
