"""Frames as they leave the gateway: each frame's JSON `data` (ARCHITECTURE §4), and the one
mapping from a failure to its `error` frame, with the one rule for `retryable`. Every door that
streams frames renders them through here."""

from __future__ import annotations

from typing import Any

from sluicegate.errors import FenceViolation, GatewayError, StateError, StateUnavailable
from sluicegate.present import present
from sluicegate.types import (
    AcceptedFrame,
    CardFrame,
    CompleteFrame,
    CorrectionFrame,
    ElementFrame,
    ErrorFrame,
    Frame,
    GuardrailFrame,
    TokenFrame,
    ToolCallFrame,
)


def frame_data(frame: Frame) -> dict[str, Any]:
    """A frame's JSON `data`, the one serialisation every door uses."""
    match frame:
        case AcceptedFrame(trace_id=trace_id):
            return {"trace_id": trace_id}
        case TokenFrame(text=text):
            return {"text": text}
        case ToolCallFrame(index=index, id=call_id, name=name, arguments=arguments):
            return present(index=index, id=call_id, name=name, arguments=arguments)
        case GuardrailFrame(stage=stage, rule=rule, action=action, span=span, listing=listing):
            return present(stage=stage, rule=rule, action=action, span=list(span), listing=listing)
        case CorrectionFrame(replace=span, text=text, reason=reason):
            return {"replace": list(span), "text": text, "reason": reason}
        case CardFrame(card=card):
            return card
        case ElementFrame(element=element):
            return element
        case CompleteFrame(trace_id=trace_id, route=route, usage=usage, text=text, object=value):
            body: dict[str, Any] = {
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
                "trace_id": trace_id,
                "route": route,
            }
            if value is not None:
                body["object"] = value
            else:
                body["text"] = text
            return body
        case ErrorFrame(type=kind, message=message, retryable=retryable):
            return {"type": kind, "message": message, "retryable": retryable}


def retryable(error: GatewayError) -> bool:
    """The one rule for whether trying again later may succeed: a server-side failure, a timeout,
    or a limit that lifts (429)."""
    return error.status >= 500 or error.status in (408, 429)


def error_frame(error: GatewayError | StateError | FenceViolation) -> ErrorFrame:
    """The `error` frame of a failure: the one mapping every door that streams frames uses."""
    if isinstance(error, FenceViolation):
        return ErrorFrame(type="prompt_injection", message=error.reason, retryable=False)
    if isinstance(error, StateError):
        error = StateUnavailable.of(error)
    return ErrorFrame(type=error.code or error.error_type, message=error.message, retryable=retryable(error))
