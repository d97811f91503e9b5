"""One versioned event schema (seed 003 ADR-0017): every event has `type`, `schema_version`,
`trace_id`, `ts` and a typed payload. Schemas change by addition only: a new optional field
keeps the version readable by older readers; anything else is a new version, and every
version ever written stays parseable.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sluicegate.errors import UnknownSchemaVersion

SCHEMA_VERSION = 1


class Payload(BaseModel):
    # Unknown fields are kept, not rejected: a newer writer may have added some.
    model_config = ConfigDict(extra="allow", frozen=True)


class RequestReceived(Payload):
    endpoint: str
    model: str
    stream: bool
    user: str | None = None
    messages: list[dict[str, str]] | None = None  # only with audit.store_content, redacted
    tools: list[str] | None = None  # the names of the tools offered (their schemas are not kept)


class RequestCompleted(Payload):
    model: str
    route: str | None = None
    outcome: str  # "ok" or the error type
    served_by: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_ms: float = 0.0
    completion: str | None = None  # only with audit.store_content, redacted
    tool_calls: list[str] | None = None  # the names of the tools the model called (arguments: content)


class RoutingTransition(Payload):
    """A move of the request orchestrator from one state to the next (seed 001 §2.6)."""

    from_state: str
    to_state: str
    detail: str = ""  # why: the stage's reason in a few words
    elapsed_ms: float | None = None  # since the request was received


class ProviderAttempt(Payload):
    target: str
    outcome: str  # "ok" or the error kind
    status: int | None = None


class FailoverEvent(Payload):
    from_target: str
    to_target: str
    error: str
    after_chars: int


class BreakerTransition(Payload):
    target: str
    from_state: str
    to_state: str
    reason: str


class GuardrailHit(Payload):
    stage: str
    rule: str
    action: str
    span: tuple[int, int] | None = None


class Correction(Payload):
    replace: tuple[int, int]
    reason: str


class TrustFilter(Payload):
    listing_id: str
    score: float | None
    threshold: float
    reason: str


class BudgetDecision(Payload):
    user: str
    decision: str  # "reserved", "committed", "released", "rejected"
    tokens: int
    remaining: int | None = None


class CacheHit(Payload):
    key: str


class Summarization(Payload):
    session_id: str
    turns: int
    entities: list[str] = Field(default_factory=list)


class Harvest(Payload):
    record_id: str
    accepted: bool
    reason: str


class ShadowPair(Payload):
    production: str
    candidate: str
    differs: bool


class AlertEvent(Payload):
    alert: str
    role: str
    detail: dict[str, Any] = Field(default_factory=dict)


class EgressRefused(Payload):
    host: str
    reason: str


class WorkerExited(Payload):
    """A model worker process ended without being asked to (a native crash, an OOM kill)."""

    provider: str
    pid: int
    exit_code: int | None = None
    signal: str | None = None
    in_flight: int = 0
    during_start: bool = False
    restarts_in_window: int = 0
    # restart | crash_loop | fallback_without_extra_buffers
    action: str
    restart_in_s: float | None = None


class RoutingDecision(Payload):
    """ROUTING_DECISION's verdict on a `model: auto` request (seed 001 §2.6)."""

    decision: str  # simple_tool_call | reasoning_required | coding_required | router_can_handle
    role: str | None = None
    tool: str | None = None
    confidence: float
    stage: str  # rules | router_model | cache
    elapsed_ms: float


class ToolExecution(Payload):
    """A deterministic tool ran: the router's choice, or a call the model made."""

    tool: str
    arguments: dict[str, Any]
    result: str  # the result as the model (or the template) reads it, JSON
    error: str | None = None
    by: str  # "router" (TOOL_ONLY_EXECUTION) or "model" (TOOL_EXECUTION)


class ValidationVerdict(Payload):
    """VALIDATION's verdict on an answer; `attempt` 0 is the first answer."""

    verdict: str  # valid | invalid
    reasons: list[str]
    checks: list[str]
    attempt: int = 0


class TierOutcome(Payload):
    """A structured workflow's tier ran (seed 003 ADR-0002): its outcome."""

    workflow: str
    tier: str
    outcome: str  # ok | refused | invalid | budget_exhausted
    detail: str = ""
    answers: int = 0  # the model answers the tier read: 1 is no reask, 0 a recipe or a skipped call


PAYLOADS: dict[str, type[Payload]] = {
    "request_received": RequestReceived,
    "request_completed": RequestCompleted,
    "routing_transition": RoutingTransition,
    "provider_attempt": ProviderAttempt,
    "failover": FailoverEvent,
    "breaker_transition": BreakerTransition,
    "guardrail_hit": GuardrailHit,
    "correction": Correction,
    "trust_filter": TrustFilter,
    "budget_decision": BudgetDecision,
    "cache_hit": CacheHit,
    "summarization": Summarization,
    "harvest": Harvest,
    "shadow_pair": ShadowPair,
    "alert": AlertEvent,
    "egress_refused": EgressRefused,
    "worker_exited": WorkerExited,
    "routing_decision": RoutingDecision,
    "tool_execution": ToolExecution,
    "validation_verdict": ValidationVerdict,
    "tier_outcome": TierOutcome,
}
EventType = Literal[
    "request_received",
    "request_completed",
    "routing_transition",
    "provider_attempt",
    "failover",
    "breaker_transition",
    "guardrail_hit",
    "correction",
    "trust_filter",
    "budget_decision",
    "cache_hit",
    "summarization",
    "harvest",
    "shadow_pair",
    "alert",
    "egress_refused",
    "worker_exited",
    "routing_decision",
    "tool_execution",
    "validation_verdict",
    "tier_outcome",
]


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: EventType
    schema_version: Annotated[int, Field(ge=1)] = SCHEMA_VERSION
    trace_id: str
    ts: float = Field(default_factory=time.time)
    payload: dict[str, Any]

    @classmethod
    def of(cls, trace_id: str, payload: Payload) -> Event:
        kind = _TYPE_OF[type(payload)]
        return cls(type=kind, trace_id=trace_id, payload=payload.model_dump(mode="json"))

    def typed(self) -> Payload:
        """The payload as its model; refuses versions newer than this code knows."""
        if self.schema_version > SCHEMA_VERSION:
            raise UnknownSchemaVersion(f"{self.type} v{self.schema_version} is newer than v{SCHEMA_VERSION}")
        return PAYLOADS[self.type].model_validate(self.payload)


_TYPE_OF: dict[type[Payload], EventType] = {model: name for name, model in PAYLOADS.items()}  # type: ignore[misc]
EVENT_LIST = TypeAdapter(list[Event])


class Writable(Protocol):
    """What an event log writes: an `Event`, or a `Record` on its way from a request."""

    @property
    def type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def ts(self) -> float: ...
    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Record:
    """An event as a request emits it, on the way to the log. Built on every request's path, several
    times each, so without a second validation: its payload was validated as it was built (or made
    from values of our own: by `record_of`, its fields checked, or for the orchestrator's moves
    by `AuditTrail.emit_fields`); readers get `Event`s, validated."""

    type: EventType
    trace_id: str
    payload: dict[str, Any]
    ts: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(cls, trace_id: str, payload: Payload) -> Record:
        return cls(_TYPE_OF[type(payload)], trace_id, payload.model_dump(mode="json"))


@functools.cache
def _shape(model: type[Payload]) -> tuple[dict[str, Any], frozenset[str], frozenset[str]]:
    """A payload model's defaults, its required fields and all its fields."""
    defaults: dict[str, Any] = {}
    required = set()
    for name, info in model.model_fields.items():
        if info.is_required():
            required.add(name)
        elif info.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name} has a default factory: build the model instead")
        else:
            defaults[name] = info.default
    return defaults, frozenset(required), frozenset(model.model_fields)


def record_of(trace_id: str, model: type[Payload], /, **values: Any) -> Record:
    """`Record.of(trace_id, model(**values))` without building and dumping a model (a few µs each,
    three times a request): for values of our own making that are JSON already (str, int, float,
    bool, None, lists and dicts of those). The fields are still checked: all required ones given,
    none unknown."""
    defaults, required, known = _shape(model)
    if not (required <= values.keys() <= known):
        raise TypeError(f"{model.__name__} takes {sorted(known)} (required: {sorted(required)})")
    return Record(_TYPE_OF[model], trace_id, {**defaults, **values})
