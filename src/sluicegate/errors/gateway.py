"""What the API answers: each error has an HTTP status, an OpenAI error type and a code."""

from __future__ import annotations

import math

from sluicegate.errors.base import SluicegateError, StateError
from sluicegate.errors.provider import Attempt


class GatewayError(SluicegateError):
    status: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param

    # Seconds after which trying again may succeed; sent as Retry-After.
    retry_after: float | None = None

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after)))}


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(GatewayError):
    status = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class Forbidden(GatewayError):
    status = 403
    error_type = "permission_error"
    code = "forbidden"


class PolicyRefused(GatewayError):
    """The tier-0 gate refused the request before any token was spent."""

    status = 403
    error_type = "permission_error"
    code = "policy_refused"


class PayloadTooLarge(GatewayError):
    status = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"


class RequestTimeout(GatewayError):
    status = 408
    error_type = "invalid_request_error"
    code = "request_timeout"

    def headers(self) -> dict[str, str]:
        # The rest of the body may still come: the connection cannot carry another request.
        return {**super().headers(), "connection": "close"}


class ClientDisconnected(GatewayError):
    """The client went away before its request was read: nobody reads the answer, but the request
    is counted and logged as what it was rather than as a server error."""

    status = 499
    error_type = "invalid_request_error"
    code = "client_disconnected"


class UnsupportedMediaType(GatewayError):
    status = 415
    error_type = "invalid_request_error"
    code = "unsupported_media_type"


class SessionNotFound(GatewayError):
    """No session of this caller has the id: another user's session answers the same, so that a
    guessed id confirms nothing."""

    status = 404
    error_type = "invalid_request_error"
    code = "session_not_found"


class BudgetExceeded(GatewayError):
    status = 429
    error_type = "insufficient_quota"
    code = "budget_exceeded"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestOverBudget(GatewayError):
    """The request needs more tokens than the user's whole hourly budget: waiting cannot help."""

    status = 400
    error_type = "invalid_request_error"
    code = "request_exceeds_budget"


class ModelNotFound(GatewayError):
    status = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class SchemaNotFound(GatewayError):
    """No output schema of that name (POST /v1/generate/{schema})."""

    status = 404
    error_type = "invalid_request_error"
    code = "schema_not_found"


class AnswerRejected(GatewayError):
    """The VALIDATION stage found the answer wrong; it is not shipped as an answer."""

    status = 422
    error_type = "invalid_response_error"
    code = "answer_failed_validation"


class UnsupportedByTarget(GatewayError):
    """No target of the route can do what the request needs (its declared capabilities)."""

    status = 400
    error_type = "invalid_request_error"
    code = "unsupported_by_target"


class AllProvidersFailed(GatewayError):
    status = 503
    error_type = "service_unavailable"
    code = "all_providers_failed"

    def __init__(
        self, attempts: list[Attempt], retry_after: float | None = None, *, detail: str | None = None
    ) -> None:
        summary = ", ".join(f"{a.provider}/{a.model}: {a.error}" for a in attempts) or "no provider available"
        why = f"; {detail}, which no other provider can continue" if detail else ""
        super().__init__(f"Every provider failed ({summary}{why}).")
        self.attempts = attempts
        self.retry_after = retry_after


class StateUnavailable(GatewayError):
    """The state store (keys, budgets, sessions) failed: a full disk, an unreachable Redis. The
    request was refused before a model was asked, so nothing was spent."""

    status = 503
    error_type = "service_unavailable"
    code = "state_unavailable"
    retry_after = 5.0

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The gateway could not use its state store ({reason}); the request was not served "
            "and nothing was spent. Try again later."
        )
        self.reason = reason

    @classmethod
    def of(cls, exc: StateError) -> StateUnavailable:
        """What the store said, in a few words and without paths ("database or disk is full")."""
        text = str(exc).removeprefix("state store failed: ")
        reason = text if len(text) <= 80 and "/" not in text else type(exc.__cause__ or exc).__name__
        return cls(reason)


class UpstreamRejected(GatewayError):
    """The upstream refused the request itself (its 4xx); the caller must change the request."""

    status = 400
    error_type = "invalid_request_error"
    code = "upstream_bad_request"


class Overloaded(GatewayError):
    """The role's concurrency limit and its queue are full, or the wait in the queue ran out."""

    status = 429
    error_type = "rate_limit_error"
    code = "overloaded"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GatewayTimeout(GatewayError):
    status = 504
    error_type = "timeout"
    code = "timeout"
