"""What the provider stack did for one request: its attempts, failovers, who served it, and
the deadline that bounds its retries.

Wrappers stay pure providers (the port has no side channel), so they report what they did to
the call record of the request in flight, held in a context variable that the door sets once
(`pipeline.context.bind`). Everything else about a request lives in its `RequestContext`,
passed explicitly.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field

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


_current: contextvars.ContextVar[CallTrace | None] = contextvars.ContextVar("sluicegate_trace", default=None)


def current_trace() -> CallTrace:
    """The call record of the request in flight, or a throwaway one outside a request."""
    trace = _current.get()
    return trace if trace is not None else CallTrace()


def start_trace(trace: CallTrace) -> contextvars.Token[CallTrace | None]:
    return _current.set(trace)


def end_trace(token: contextvars.Token[CallTrace | None]) -> None:
    _current.reset(token)
