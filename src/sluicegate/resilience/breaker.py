"""Circuit breakers (seed 002): per provider/model, closed → open → half-open → closed.

- closed: `failure_threshold` consecutive failures within `window_s` open it; a 429 with
  Retry-After opens it for that long. Only the provider's own failures count (timeouts,
  connection errors, 5xx, truncated or malformed streams), never the caller's 4xx.
- open: no traffic at all until `reset_timeout_s` (or the Retry-After) has passed.
- half-open: `half_open_max` probes are let through; a success closes it, a failure re-opens it.

`CircuitBreaker` is the state machine, with an injectable clock; `BreakerProvider` wraps a
provider with it, so a breaker-wrapped provider is still a provider. Every transition is
logged with its reason and handed to the listeners (metrics, audit, alerts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sluicegate.config.schema import CircuitBreakerConfig
from sluicegate.errors import ProviderError, ProviderRateLimited
from sluicegate.providers.base import Capabilities, Provider
from sluicegate.types import Chunk, Completion, CompletionRequest, Message

log = logging.getLogger("sluicegate.breaker")
Clock = Callable[[], float]


class CircuitState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitOpen(ProviderError):
    """The breaker refused the call; the provider was not contacted."""

    retryable = True
    counts_as_failure = False
    kind_name = "circuit_open"

    def __init__(self, target: str, retry_after: float) -> None:
        super().__init__(f"circuit open for {target}", provider=target)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Transition:
    target: str
    from_state: CircuitState
    to_state: CircuitState
    reason: str
    at: float


TransitionListener = Callable[[Transition], None]


@dataclass(slots=True)
class CircuitSnapshot:
    target: str
    state: CircuitState
    recent_failures: int
    open_for_s: float
    probes_in_flight: int


@dataclass
class CircuitBreaker:
    target: str
    settings: CircuitBreakerConfig
    clock: Clock = time.monotonic
    listeners: list[TransitionListener] = field(default_factory=list)
    state: CircuitState = CircuitState.closed
    failures: list[float] = field(default_factory=list)
    open_until: float = 0.0
    probes: int = 0

    def admit(self) -> bool:
        """May a call go through now? A half-open admission reserves a probe slot."""
        now = self.clock()
        if self.state is CircuitState.open:
            if now < self.open_until:
                return False
            self._move(CircuitState.half_open, "reset timeout elapsed")
        if self.state is CircuitState.half_open:
            if self.probes >= self.settings.half_open_max:
                return False
            self.probes += 1
        return True

    def record_success(self) -> None:
        if self.state is CircuitState.half_open:
            self.probes = max(0, self.probes - 1)
            self._move(CircuitState.closed, "probe succeeded")
        self.failures.clear()

    def record_failure(self, error: ProviderError) -> None:
        now = self.clock()
        if self.state is CircuitState.half_open:
            self.probes = max(0, self.probes - 1)
            self._open(now, self.settings.reset_timeout_s, f"probe failed ({error.kind})")
            return
        if isinstance(error, ProviderRateLimited) and error.retry_after:
            self._open(now, error.retry_after, f"rate limited, retry after {error.retry_after:g} s")
            return
        self.failures = [t for t in self.failures if now - t < self.settings.window_s]
        self.failures.append(now)
        if len(self.failures) >= self.settings.failure_threshold and self.state is CircuitState.closed:
            self._open(
                now,
                self.settings.reset_timeout_s,
                f"{len(self.failures)} failures within {self.settings.window_s:g} s (last: {error.kind})",
            )

    def release(self) -> None:
        """A call ended with no verdict (the caller went away): free its probe slot."""
        if self.state is CircuitState.half_open:
            self.probes = max(0, self.probes - 1)

    def retry_after(self) -> float:
        return max(0.0, self.open_until - self.clock())

    def snapshot(self) -> CircuitSnapshot:
        now = self.clock()
        recent = len([t for t in self.failures if now - t < self.settings.window_s])
        open_for = max(0.0, self.open_until - now) if self.state is CircuitState.open else 0.0
        return CircuitSnapshot(self.target, self.state, recent, open_for, self.probes)

    def _open(self, now: float, duration: float, reason: str) -> None:
        self.open_until = now + duration
        self.failures.clear()
        self._move(CircuitState.open, reason)

    def _move(self, to_state: CircuitState, reason: str) -> None:
        if to_state is self.state:
            return
        transition = Transition(self.target, self.state, to_state, reason, self.clock())
        self.state = to_state
        if to_state is not CircuitState.half_open:
            self.probes = 0
        log.warning("circuit %s: %s -> %s (%s)", self.target, transition.from_state, to_state, reason)
        for listener in self.listeners:
            listener(transition)


class BreakerRegistry:
    """One breaker per provider/model, shared by every role that uses the target."""

    def __init__(self, defaults: CircuitBreakerConfig, clock: Clock = time.monotonic) -> None:
        self._defaults = defaults
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self.listeners: list[TransitionListener] = []

    def get(self, target: str, settings: CircuitBreakerConfig | None = None) -> CircuitBreaker:
        breaker = self._breakers.get(target)
        if breaker is None:
            breaker = CircuitBreaker(target, settings or self._defaults, self._clock, self.listeners)
            self._breakers[target] = breaker
        return breaker

    def snapshots(self) -> list[CircuitSnapshot]:
        return [b.snapshot() for b in self._breakers.values()]


class BreakerProvider:
    """A provider that asks its breaker before every call and reports every outcome."""

    def __init__(self, inner: Provider, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self.breaker = breaker

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    async def generate(self, request: CompletionRequest) -> Completion:
        self._admit()
        try:
            completion = await self._inner.generate(request)
        except ProviderError as exc:
            self._judge(exc)
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return completion

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        self._admit()
        verdict = False
        try:
            async for chunk in self._inner.stream(request):
                if chunk.finish_reason is not None:
                    verdict = True
                    self.breaker.record_success()
                yield chunk
        except ProviderError as exc:
            verdict = True
            self._judge(exc)
            raise
        finally:
            if not verdict:
                self.breaker.release()

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        return await self._inner.count_tokens(messages, model)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _admit(self) -> None:
        if not self.breaker.admit():
            raise CircuitOpen(self.breaker.target, self.breaker.retry_after())

    def _judge(self, error: ProviderError) -> None:
        if error.counts_as_failure:
            self.breaker.record_failure(error)
        else:
            # The caller's own mistake (a 4xx) shows the provider alive: it answered.
            self.breaker.record_success()
