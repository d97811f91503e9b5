"""One request's context: who asks, under which trace id, what the orchestrator decided (route,
cache), and the call record the provider stack reports into. Made once by the door, passed
explicitly to the orchestrator, which alone writes its decisions into it."""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from sluicegate.calltrace import CallTrace, end_trace, start_trace
from sluicegate.keys import VirtualKey
from sluicegate.routing.roles import RouteSpec


@dataclass(slots=True)
class RequestContext:
    call: CallTrace = field(default_factory=CallTrace)
    started: float = field(default_factory=time.monotonic)
    # The OpenTelemetry span of the request, when tracing is on.
    span: Any = None
    # Set by AUTHORIZE: the virtual key's user (anonymous while auth is open) and the key itself.
    user: str = "anonymous"
    key: VirtualKey | None = None
    # Set by MODEL_SELECTION: the route and how it was chosen ("explicit/ROLE").
    route: RouteSpec | None = None
    route_label: str | None = None
    # Set by CACHE_LOOKUP for cacheable requests: "hit" or "miss".
    cache: str | None = None

    @property
    def trace_id(self) -> str:
        return self.call.trace_id

    @property
    def key_budget(self) -> int | None:
        return self.key.tokens_per_hour if self.key is not None else None

    @property
    def role(self) -> str | None:
        return self.route.name if self.route is not None else None


def bind(context: RequestContext) -> contextvars.Token[CallTrace | None]:
    """Done once by the door: the provider stack reports into this request's call record."""
    return start_trace(context.call)


def unbind(token: contextvars.Token[CallTrace | None]) -> None:
    end_trace(token)
