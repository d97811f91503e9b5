"""Typed frames: one serialisation (ARCHITECTURE §4's `data`), one mapping from errors to `error`."""

from __future__ import annotations

import pytest

from sluicegate.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    FenceViolation,
    GatewayTimeout,
    InvalidRequest,
    StateError,
)
from sluicegate.frames import error_frame, frame_data
from sluicegate.types import (
    CardFrame,
    CompleteFrame,
    CorrectionFrame,
    ErrorFrame,
    Frame,
    GuardrailFrame,
    TokenFrame,
    Usage,
)


@pytest.mark.parametrize(
    ("frame", "event", "data"),
    [
        (TokenFrame("Hi"), "token", {"text": "Hi"}),
        (
            GuardrailFrame(stage="inline", rule="pii.ssn", action="redact", span=(3, 14)),
            "guardrail",
            {"stage": "inline", "rule": "pii.ssn", "action": "redact", "span": [3, 14]},
        ),
        (
            CorrectionFrame(replace=(10, 15), text="$7.99", reason="price mismatch"),
            "correction",
            {"replace": [10, 15], "text": "$7.99", "reason": "price mismatch"},
        ),
        (CardFrame({"id": "B1", "price": 7.99}), "card", {"id": "B1", "price": 7.99}),
        (
            CompleteFrame(trace_id="t", route="explicit/r", usage=Usage(3, 4), text="done"),
            "complete",
            {
                "text": "done",
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
                "trace_id": "t",
                "route": "explicit/r",
            },
        ),
        (
            ErrorFrame(type="timeout", message="late", retryable=True),
            "error",
            {"type": "timeout", "message": "late", "retryable": True},
        ),
    ],
)
def test_each_frame_has_its_event_and_data(frame: Frame, event: str, data: dict[str, object]) -> None:
    assert frame.event == event
    assert frame_data(frame) == data


def test_one_rule_says_what_is_retryable() -> None:
    assert error_frame(AllProvidersFailed([])).retryable
    assert error_frame(GatewayTimeout("late")).retryable
    assert error_frame(BudgetExceeded("spent", retry_after=30)).retryable
    assert not error_frame(InvalidRequest("bad")).retryable
    assert error_frame(InvalidRequest("bad")).type == "invalid_request"
    injected = error_frame(FenceViolation("the canary was in the output"))
    assert (injected.type, injected.retryable) == ("prompt_injection", False)
    full = error_frame(StateError("state store failed: database or disk is full"))
    assert (full.type, full.retryable) == ("state_unavailable", True)
    assert "database or disk is full" in full.message
