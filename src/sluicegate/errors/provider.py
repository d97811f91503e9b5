"""What adapters and resilience wrappers raise: foreign failures translated at the edge, with
the policy the wrappers read (`retryable`, `counts_as_failure`)."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.errors.base import SluicegateError


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one provider, as reported to the caller: never a key, never a prompt."""

    provider: str
    model: str
    error: str
    status: int | None = None


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

    def __init__(
        self, attempts: list[Attempt], errors: list[ProviderError], *, detail: str | None = None
    ) -> None:
        super().__init__(detail or f"all {len(errors)} targets failed")
        self.detail = detail
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


class CannotContinue(ProviderError):
    """Failover asked a target to continue an answer another began, in a form this target can
    only write from the start (JSON under a grammar); the next target may still try."""

    retryable = False
    counts_as_failure = False
    kind_name = "cannot_continue"


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
