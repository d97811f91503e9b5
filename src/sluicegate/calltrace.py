"""What the provider stack did for one request: its attempts, failovers, who served it, and
the deadline that bounds its retries.

Wrappers stay pure providers (the port has no side channel), so they report what they did to
the call record of the request in flight, held in a context variable that the door sets once
(`pipeline.context.bind`). Everything else about a request lives in its `RequestContext`,
passed explicitly.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field

from sluicegate.errors import Attempt
from sluicegate.ids import random_hex


@dataclass(slots=True)
class Failover:
    from_target: str
    to_target: str
    error: str
    after_chars: int


def new_trace_id() -> str:
    """32 hex digits: the time in milliseconds (12), then 80 random bits (20), as UUIDv7 lays
    them out. Ordered by time, a request's audit rows land at the end of the trace-id index
    instead of at random places in it: 5.3 against 8.8 µs of CPU a row (SQLite, 300,000 rows)."""
    return f"{time.time_ns() // 1_000_000:012x}{random_hex(10)}"


@dataclass(slots=True)
class CallTrace:
    trace_id: str = field(default_factory=new_trace_id)
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
