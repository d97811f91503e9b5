"""How a request ended, as the audit trail and the metrics name it."""

from __future__ import annotations

import asyncio

from sluicegate.errors import FenceViolation, GatewayError, StateError


def outcome_of(error: BaseException | None) -> str:
    match error:
        case GatewayError():
            return error.code or "error"
        case StateError():
            return "state_unavailable"
        case FenceViolation():
            return "prompt_injection"
        case None | asyncio.CancelledError() | GeneratorExit():
            # Neither an answer nor an error: the caller left.
            return "client_disconnected"
        case _:
            return "error"
