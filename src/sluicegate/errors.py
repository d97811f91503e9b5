"""The one exception tree of sluicegate.

    SluicegateError
    ├── ConfigError                    a configuration file or value is wrong (file, key path, reason)
    ├── ProviderSetupError             a provider cannot be built from its configuration
    ├── ScriptError                    a scripted provider's script is invalid
    ├── StateError                     the state store cannot be reached or is broken
    ├── FactSourceError                the fact source failed or did not answer in time
    ├── FenceViolation                 untrusted text forged the fence, or the output gave the canary away
    ├── BudgetExhausted                a workflow's budget token cannot pay for the next internal call
    ├── NotAllowed                     a trust-signal checker outside the allowlist
    ├── UnknownSchemaVersion           an audit event newer than this code
    ├── ServerUnavailable              (testing) a server a test needs is not installed
    ├── ProviderError                  raised by adapters; foreign errors are translated at the edge
    │   ├── ProviderTimeout            (retryable)
    │   ├── ProviderUnavailable        connection refused/reset, DNS failure (retryable)
    │   ├── ProviderServerError        5xx or an in-band error event (retryable)
    │   │   └── WorkerCrashed          the embedded model's worker process died (retryable)
    │   ├── ProviderRateLimited        429, carries retry_after (retryable)
    │   ├── TruncatedStream            the stream ended without a finish reason (retryable)
    │   ├── MalformedResponse          unparseable body or event (retryable)
    │   ├── ProviderAuthError          401/403 from the upstream (not retryable)
    │   ├── ProviderBadRequest         the upstream refused the request as invalid (not retryable)
    │   ├── EgressBlocked              the egress guard refused the connection (not retryable)
    │   ├── ChainExhausted             every target of a failover chain failed
    │   └── CircuitOpen                the breaker refused without contacting the provider
    └── GatewayError                   what the API answers; each has an HTTP status and an OpenAI error type
        ├── InvalidRequest             400
        ├── Unauthorized               401, no or a bad virtual key
        ├── Forbidden                  403, a role the key may not use
        ├── PolicyRefused              403, the tier-0 gate's rule and reason
        ├── PayloadTooLarge            413
        ├── RequestTimeout             408, the request body did not arrive in time
        ├── ClientDisconnected         499 (nginx's), the client left before its request was read
        ├── UnsupportedMediaType       415, a body that is not application/json
        ├── SessionNotFound            404, no such session for this caller (another's looks the same)
        ├── ModelNotFound              404
        ├── UpstreamRejected           400, the upstream refused the request itself
        ├── Overloaded                 429, the role's concurrency limit and queue are full
        ├── BudgetExceeded             429, the user's hourly token budget is spent (Retry-After)
        ├── RequestOverBudget          400, the request needs more than the whole hourly budget
        ├── AllProvidersFailed         503, lists each attempt (provider, model, error type)
        ├── StateUnavailable           503, the state store failed (a full disk, Redis gone)
        └── GatewayTimeout             504

Business logic catches only these, never an SDK's or an HTTP client's exceptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sluicegate.types import ErrorFrame


class SluicegateError(Exception):
    """Base of every error sluicegate raises on purpose."""


class ConfigError(SluicegateError):
    """A wrong configuration: the CLI prints it as one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


class ProviderSetupError(SluicegateError):
    """A provider cannot be built from its configuration (missing key file, bad script)."""


class ScriptError(SluicegateError, ValueError):
    """A scripted provider's script (or a mock upstream's) is invalid."""


class StateError(SluicegateError):
    """The store cannot be reached or is broken; callers decide whether to fail open or closed."""


class FactSourceError(SluicegateError):
    """The fact source failed or did not answer in time; callers degrade, never guess."""


class FenceViolation(SluicegateError):
    """Untrusted text tried to forge the fence, or the model's output gave the canary away."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BudgetExhausted(SluicegateError):
    """A workflow's budget token cannot pay for the next internal call."""

    def __init__(self, workflow: str, needed: int, remaining: int) -> None:
        super().__init__(f"workflow '{workflow}' needs {needed} tokens, {remaining} remain")
        self.workflow = workflow
        self.needed = needed
        self.remaining = remaining


class NotAllowed(SluicegateError, ValueError):
    """A trust-signal checker outside the allowlist."""


class UnknownSchemaVersion(SluicegateError, ValueError):
    """An audit event written by a newer version of the schema than this code knows."""


class ServerUnavailable(SluicegateError, RuntimeError):
    """A server the tests need (Redis, PostgreSQL) is not installed here."""


class ProviderError(SluicegateError):
    retryable: bool = True
    # Counts against the provider's health (circuit breaker); a caller's own mistake does not.
    counts_as_failure: bool = True
    # Seconds the provider asked us to wait (Retry-After), when it said.
    retry_after: float | None = None
    kind_name: str | None = None

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status

    @property
    def kind(self) -> str:
        """A stable, secret-free name for the error, used in attempt lists and metrics."""
        return self.kind_name or _KIND_NAMES.get(type(self), type(self).__name__)


class ChainExhausted(ProviderError):
    """Every target of a failover chain failed; retryable if any failure was."""

    def __init__(self, attempts: list[Attempt], errors: list[ProviderError]) -> None:
        super().__init__(f"all {len(errors)} targets failed")
        self.attempts = list(attempts)
        self.retryable = any(e.retryable for e in errors)
        waits = [e.retry_after for e in errors if e.retry_after is not None]
        # The soonest any target will take traffic again.
        self.retry_after = min(waits) if waits else None


class CircuitOpen(ProviderError):
    """The breaker refused the call; the provider was not contacted."""

    retryable = True
    counts_as_failure = False
    kind_name = "circuit_open"

    def __init__(self, target: str, retry_after: float) -> None:
        super().__init__(f"circuit open for {target}", provider=target)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    pass


class ProviderUnavailable(ProviderError):
    pass


class ProviderServerError(ProviderError):
    pass


class WorkerCrashed(ProviderServerError):
    """The worker process running an embedded model died (a native crash, an OOM kill); the
    supervisor restarts it, and the failure counts against the target's breaker."""

    kind_name = "worker_crashed"


class ProviderRateLimited(ProviderError):
    def __init__(
        self, message: str, *, provider: str = "", status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class TruncatedStream(ProviderError):
    pass


class MalformedResponse(ProviderError):
    pass


class ProviderAuthError(ProviderError):
    retryable = False


class ProviderBadRequest(ProviderError):
    retryable = False
    counts_as_failure = False


class EgressBlocked(ProviderError):
    """The egress guard refused the connection; the provider was never contacted."""

    retryable = False
    counts_as_failure = False
    kind_name = "egress_refused"


_KIND_NAMES: dict[type[ProviderError], str] = {
    ProviderTimeout: "timeout",
    ProviderUnavailable: "unavailable",
    ProviderServerError: "server_error",
    ProviderRateLimited: "rate_limited",
    TruncatedStream: "truncated_stream",
    MalformedResponse: "malformed_response",
    ProviderAuthError: "auth_error",
    ProviderBadRequest: "bad_request",
}


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


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one provider, as reported to the caller: never a key, never a prompt."""

    provider: str
    model: str
    error: str
    status: int | None = None


class AllProvidersFailed(GatewayError):
    status = 503
    error_type = "service_unavailable"
    code = "all_providers_failed"

    def __init__(self, attempts: list[Attempt], retry_after: float | None = None) -> None:
        summary = ", ".join(f"{a.provider}/{a.model}: {a.error}" for a in attempts) or "no provider available"
        super().__init__(f"Every provider failed ({summary}).")
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
