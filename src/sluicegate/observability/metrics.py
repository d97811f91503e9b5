"""Prometheus metrics, in a registry of their own so that several gateways (tests, workers)
never collide. Label values are bounded: roles, targets, routes and statuses come from the
configuration and the code, never from request content."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase

from sluicegate.resilience.breaker import CircuitState, Transition

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
STATE_VALUE = {CircuitState.closed: 0, CircuitState.half_open: 1, CircuitState.open: 2}


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "sluicegate_requests", "HTTP requests answered.", ["route", "role", "status"], registry=r
        )
        self.latency = Histogram(
            "sluicegate_request_duration_seconds",
            "Time to the last byte of the answer.",
            ["route", "role"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "sluicegate_time_to_first_token_seconds",
            "Time to the first streamed token.",
            ["role"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("sluicegate_tokens", "Tokens used.", ["user", "role", "kind"], registry=r)
        self.cost = Counter(
            "sluicegate_cost_usd",
            "Spend in US dollars, from configured prices.",
            ["user", "role"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "sluicegate_circuit_state",
            "Breaker state: 0 closed, 1 half-open, 2 open.",
            ["target"],
            registry=r,
        )
        self.circuit_transitions = Counter(
            "sluicegate_circuit_transitions", "Breaker transitions.", ["target", "to_state"], registry=r
        )
        self.provider_errors = Counter(
            "sluicegate_provider_errors", "Failed provider attempts.", ["target", "kind"], registry=r
        )
        self.failovers = Counter(
            "sluicegate_failovers",
            "Mid-stream switches to another target.",
            ["from_target", "to_target"],
            registry=r,
        )
        self.in_flight = Gauge("sluicegate_role_in_flight", "Calls in flight per role.", ["role"], registry=r)
        self.queue_depth = Gauge(
            "sluicegate_role_queue_depth", "Calls waiting for a slot per role.", ["role"], registry=r
        )
        self.cache_requests = Counter(
            "sluicegate_cache_requests", "Cache lookups of cacheable requests.", ["result"], registry=r
        )
        self.guardrail_hits = Counter(
            "sluicegate_guardrail_hits", "Guardrail hits.", ["rule", "action"], registry=r
        )
        self.budget_rejections = Counter(
            "sluicegate_budget_rejections", "Requests refused by a token budget.", ["user"], registry=r
        )
        self.worker_exits = Counter(
            "sluicegate_model_worker_exits",
            "Unexpected exits of a model worker process.",
            ["provider", "cause"],
            registry=r,
        )
        self.events_written = Counter("sluicegate_audit_events_written", "Audit events written.", registry=r)
        self.events_dropped = Counter(
            "sluicegate_audit_events_dropped",
            "Audit events dropped (queue full or store failing).",
            registry=r,
        )

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """`metric.labels(*values)`, remembered: prometheus-client checks and locks on every call,
        and the request path asks a few times a request for the same few children."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def breaker_transition(self, transition: Transition) -> None:
        self.circuit_state.labels(transition.target).set(STATE_VALUE[transition.to_state])
        self.circuit_transitions.labels(transition.target, transition.to_state.value).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
