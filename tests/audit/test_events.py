"""The event schema: every type round-trips, versions are checked, extension is by addition."""

from __future__ import annotations

from typing import Any

import pytest

from sluicegate.audit.events import (
    PAYLOADS,
    SCHEMA_VERSION,
    AlertEvent,
    BreakerTransition,
    Event,
    Payload,
    ProviderAttempt,
    Record,
    RequestCompleted,
    RequestReceived,
    record_of,
)
from sluicegate.errors import UnknownSchemaVersion

SAMPLES = {
    "request_received": {"endpoint": "/v1/chat/completions", "model": "reasoning", "stream": True},
    "request_completed": {"model": "reasoning", "outcome": "ok", "prompt_tokens": 3},
    "routing_transition": {"from_state": "ROUTING_DECISION", "to_state": "MODEL_SELECTION"},
    "provider_attempt": {"target": "up/m", "outcome": "timeout", "status": None},
    "failover": {"from_target": "a/m", "to_target": "b/m", "error": "truncated_stream", "after_chars": 12},
    "breaker_transition": {
        "target": "a/m",
        "from_state": "closed",
        "to_state": "open",
        "reason": "3 failures",
    },
    "guardrail_hit": {"stage": "inline", "rule": "pii.card", "action": "redact", "span": [3, 19]},
    "correction": {"replace": [10, 15], "reason": "price mismatch"},
    "trust_filter": {"listing_id": "B000000001", "score": 0.4, "threshold": 0.7, "reason": "below threshold"},
    "budget_decision": {"user": "u", "decision": "rejected", "tokens": 500, "remaining": 10},
    "cache_hit": {"key": "abc"},
    "summarization": {"session_id": "s", "turns": 20, "entities": ["B000000001"]},
    "harvest": {"record_id": "r1", "accepted": False, "reason": "trust failed"},
    "shadow_pair": {"production": "a", "candidate": "b", "differs": True},
    "alert": {"alert": "outage", "role": "reasoning"},
    "egress_refused": {"host": "169.254.169.254", "reason": "metadata address"},
    "worker_exited": {
        "provider": "local",
        "pid": 4242,
        "signal": "SIGSEGV",
        "in_flight": 1,
        "action": "restart",
    },
    "routing_decision": {
        "decision": "simple_tool_call",
        "tool": "price",
        "confidence": 0.97,
        "stage": "rules",
        "elapsed_ms": 0.3,
    },
    "tool_execution": {
        "tool": "price",
        "arguments": {"series": "Starlit Bakery"},
        "result": "{}",
        "by": "router",
    },
    "tier_outcome": {"workflow": "remediation_plan", "tier": "recipe", "outcome": "ok"},
    "validation_verdict": {
        "verdict": "invalid",
        "reasons": ["the number 12 is not in the reference"],
        "checks": ["numbers"],
    },
}


def test_every_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(PAYLOADS)


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_round_trip(kind: str) -> None:
    payload = PAYLOADS[kind].model_validate(SAMPLES[kind])
    event = Event.of("t" * 32, payload)
    assert event.type == kind
    assert event.schema_version == SCHEMA_VERSION
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.typed() == payload


def test_unknown_fields_from_a_newer_writer_are_kept() -> None:
    event = Event(type="alert", trace_id="t", payload={"alert": "outage", "role": "r", "added_later": 1})
    typed = event.typed()
    assert isinstance(typed, AlertEvent)
    assert typed.model_extra == {"added_later": 1}


def test_a_newer_schema_version_is_refused() -> None:
    event = Event(type="cache_hit", trace_id="t", schema_version=SCHEMA_VERSION + 1, payload={"key": "k"})
    with pytest.raises(UnknownSchemaVersion):
        event.typed()


def test_version_1_events_stay_readable() -> None:
    stored = (
        '{"type": "breaker_transition", "schema_version": 1, "trace_id": "t", "ts": 1.5, '
        '"payload": {"target": "a/m", "from_state": "closed", "to_state": "open", "reason": "r"}}'
    )
    typed = Event.model_validate_json(stored).typed()
    assert isinstance(typed, BreakerTransition)
    assert typed.to_state == "open"


def test_payloads_are_checked() -> None:
    with pytest.raises(ValueError, match="outcome"):
        RequestCompleted.model_validate({"model": "m"})


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (RequestReceived, {"endpoint": "/v1/chat/completions", "model": "m", "stream": True, "user": "ann"}),
        (
            RequestReceived,
            {"endpoint": "/v1/x", "model": "m", "stream": False,
             "messages": [{"role": "user", "content": "hi"}], "tools": ["lookup"]},
        ),
        (ProviderAttempt, {"target": "up/m", "outcome": "ok"}),
        (
            RequestCompleted,
            {"model": "m", "route": "explicit/m", "outcome": "ok", "served_by": "up/m", "prompt_tokens": 3,
             "completion_tokens": 5, "elapsed_ms": 1.25, "completion": None, "tool_calls": ["f"]},
        ),
    ],
)  # fmt: skip
def test_a_record_of_values_is_the_record_of_the_model(model: type[Payload], values: dict[str, Any]) -> None:
    fast = record_of("t1", model, **values)
    built = Record.of("t1", model(**values))
    assert (fast.type, fast.trace_id, fast.payload) == (built.type, built.trace_id, built.payload)


def test_a_record_of_unknown_or_missing_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="required"):
        record_of("t1", ProviderAttempt, target="up/m")
    with pytest.raises(TypeError, match="ProviderAttempt takes"):
        record_of("t1", ProviderAttempt, target="up/m", outcome="ok", typo=1)
