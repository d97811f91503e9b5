"""Turns what happened during a request (its `RequestContext`, the orchestrator's moves) into
audit events, metrics and span events, in one place, so every door records the same way."""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from sluicegate.audit.events import (
    FailoverEvent,
    GuardrailHit,
    ProviderAttempt,
    RequestCompleted,
    RequestReceived,
    record_of,
)
from sluicegate.audit.log import AuditTrail
from sluicegate.config.schema import Config
from sluicegate.guardrails.pii import redact
from sluicegate.observability.metrics import Metrics
from sluicegate.observability.tracing import Telemetry
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.states import Transition
from sluicegate.security.secrets import SECRETS
from sluicegate.types import Message, Usage

log = structlog.get_logger("sluicegate.requests")


class Recorder:
    def __init__(self, config: Config, audit: AuditTrail, metrics: Metrics, telemetry: Telemetry) -> None:
        self.config = config
        self.audit = audit
        self.metrics = metrics
        self.telemetry = telemetry

    def received(
        self,
        trace: RequestContext,
        endpoint: str,
        model: str,
        stream: bool,
        messages: Sequence[Message],
        tools: Sequence[str] = (),
    ) -> None:
        content = None
        if self.config.audit.store_content:
            content = [{"role": m.role, "content": SECRETS.scrub(redact(m.content))} for m in messages]
        received = record_of(
            trace.trace_id,
            RequestReceived,
            endpoint=endpoint,
            model=model,
            stream=stream,
            user=trace.user,
            messages=content,
            tools=list(tools) or None,
        )
        self.audit.emit_event(received)

    def transition(self, trace: RequestContext, move: Transition) -> None:
        # The `routing_transition` payload (RoutingTransition), from typed values, unchecked: nine a
        # request, and `record_of`'s field check would cost them about 2 % of a plain request.
        fields = {
            "from_state": move.from_state.value,
            "to_state": move.to_state.value,
            "detail": move.reason,
            "elapsed_ms": move.elapsed_ms,
        }
        self.audit.emit_fields(trace.trace_id, "routing_transition", fields)

    def guardrail(
        self, trace: RequestContext, stage: str, rule: str, action: str, span: tuple[int, int]
    ) -> None:
        self.metrics.guardrail_hits.labels(rule, action).inc()
        self.audit.emit(trace.trace_id, GuardrailHit(stage=stage, rule=rule, action=action, span=span))
        self.telemetry.event(trace.span, "guardrail", {"rule": rule, "action": action})

    def completed(
        self,
        trace: RequestContext,
        *,
        role: str,
        outcome: str,
        usage: Usage | None = None,
        text: str | None = None,
        tool_calls: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`tool_calls`: (name, arguments) of each call the model made; the arguments are kept only
        with audit.store_content, redacted like any content."""
        usage = usage or Usage()
        call = trace.call
        for attempt in call.attempts:
            target = f"{attempt.provider}/{attempt.model}"
            self.audit.emit(
                trace.trace_id, ProviderAttempt(target=target, outcome=attempt.error, status=attempt.status)
            )
            self.metrics.provider_errors.labels(target, attempt.error).inc()
            self.telemetry.event(trace.span, "provider_attempt", {"target": target, "outcome": attempt.error})
        if call.served_by:
            served = record_of(trace.trace_id, ProviderAttempt, target=call.served_by, outcome="ok")
            self.audit.emit_event(served)
        for failover in call.failovers:
            self.audit.emit(
                trace.trace_id,
                FailoverEvent(
                    from_target=failover.from_target,
                    to_target=failover.to_target,
                    error=failover.error,
                    after_chars=failover.after_chars,
                ),
            )
            self.metrics.failovers.labels(failover.from_target, failover.to_target).inc()
            self.telemetry.event(
                trace.span, "failover", {"from": failover.from_target, "to": failover.to_target}
            )
        metrics = self.metrics
        metrics.child(metrics.tokens, trace.user, role, "prompt").inc(usage.prompt_tokens)
        metrics.child(metrics.tokens, trace.user, role, "completion").inc(usage.completion_tokens)
        cost = self._cost(call.served_by, usage)
        if cost:
            metrics.child(metrics.cost, trace.user, role).inc(cost)
        elapsed_ms = round((time.monotonic() - trace.started) * 1000, 3)
        log.info(
            "request_completed",
            role=role,
            outcome=outcome,
            served_by=call.served_by,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            failovers=len(call.failovers),
            elapsed_ms=elapsed_ms,
        )
        store = self.config.audit.store_content
        stored_text = SECRETS.scrub(redact(text)) if text is not None and store else None
        calls = [
            f"{name}({SECRETS.scrub(redact(arguments))})" if store else name for name, arguments in tool_calls
        ]
        self.audit.emit_event(
            record_of(
                trace.trace_id,
                RequestCompleted,
                model=role,
                route=trace.route_label or f"explicit/{role}",
                outcome=outcome,
                served_by=call.served_by,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                elapsed_ms=round((time.monotonic() - trace.started) * 1000, 3),
                completion=stored_text,
                tool_calls=calls or None,
            ),
        )

    def _cost(self, served_by: str | None, usage: Usage) -> float:
        if served_by is None:
            return 0.0
        provider, _, model = served_by.partition("/")
        spec = self.config.providers.get(provider)
        price = spec.prices.get(model) if spec is not None else None
        if price is None:
            return 0.0
        return (
            usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok
        ) / 1e6
