"""What happened during one request, collected as it happens.

Wrappers stay pure providers (the port has no side channel), so they report what they
did — attempts, failovers — to the trace of the request in flight, held in a context
variable that the service sets.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sluicegate.errors import Attempt


@dataclass(slots=True)
class Failover:
    from_target: str
    to_target: str
    error: str
    after_chars: int


@dataclass(slots=True)
class CallTrace:
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: list[Attempt] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    served_by: str | None = None
    # When the request must be answered by (time.monotonic); retries do not wait past it.
    deadline: float | None = None
    # True when this request shared another identical request's upstream call.
    coalesced: bool = False
    # Who is asking: the virtual key's user once keys are in use, and that key's hourly budget.
    user: str = "anonymous"
    key_budget: int | None = None
    # "hit" or "miss" for cacheable requests.
    cache: str | None = None
    started: float = field(default_factory=time.monotonic)
    # The OpenTelemetry span of the request, when tracing is on.
    span: Any = None
    # Guardrail hits: {"stage", "rule", "action", "span"} as the frames and x_sluicegate show them.
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    # Post-stream findings on text already sent: {"replace": [start, end], "text", "reason"}.
    corrections: list[dict[str, Any]] = field(default_factory=list)


_current: contextvars.ContextVar[CallTrace | None] = contextvars.ContextVar("sluicegate_trace", default=None)


def current_trace() -> CallTrace:
    """The trace of the request in flight, or a throwaway one outside a request."""
    trace = _current.get()
    return trace if trace is not None else CallTrace()


def start_trace(trace: CallTrace) -> contextvars.Token[CallTrace | None]:
    return _current.set(trace)


def end_trace(token: contextvars.Token[CallTrace | None]) -> None:
    _current.reset(token)
