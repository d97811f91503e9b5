"""Circuit breakers (seed 002): per provider/model, closed → open → half-open → closed.

- closed: `failure_threshold` consecutive failures within `window_s` open it; a 429 with
  Retry-After opens it for that long. Only the provider's own failures count (timeouts,
  connection errors, 5xx, truncated or malformed streams), never the caller's 4xx.
- open: no traffic at all until `reset_timeout_s` (or the Retry-After) has passed.
- half-open: `half_open_max` probes are let through; a success closes it, a failure re-opens it.

`CircuitBreaker` is the state machine, kept in the state store (so instances agree) and on an
injectable clock (wall time: instances on different machines compare it); `BreakerProvider`
wraps a provider with it, so a breaker-wrapped provider is still a provider. Every transition is
logged with its reason and handed to the listeners (metrics, audit, alerts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sluicegate.calltrace import current_trace
from sluicegate.config.base import CircuitBreakerConfig
from sluicegate.errors import (
    CircuitOpen,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    StateError,
)
from sluicegate.providers.base import Provider
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.state.base import Change, Document, R, StateStore
from sluicegate.types import Chunk, Completion, CompletionRequest

log = logging.getLogger("sluicegate.breaker")
Clock = Callable[[], float]
# How long a closed breaker, once read from the shared store, is taken as still closed.
CLOSED_FRESH_S = 0.1


class CircuitState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


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


def _closed() -> Document:
    return {"state": CircuitState.closed.value, "failures": [], "open_until": 0.0, "probes": 0}


class CircuitBreaker:
    """One target's breaker. Its state is a document in the state store, changed only by atomic
    updates, so every gateway instance sharing the store sees and drives the same breaker."""

    def __init__(
        self,
        target: str,
        settings: CircuitBreakerConfig,
        store: StateStore,
        *,
        clock: Clock = time.time,
        listeners: list[TransitionListener] | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.store = store
        self.clock = clock
        self.listeners = listeners if listeners is not None else []
        self._key = f"breaker:{target}"
        self._closed_doc: Document | None = None
        self._closed_until = 0.0  # time.monotonic() until which `_closed_doc` is taken as true

    async def _read(self) -> Document | None:
        """The breaker's document, for the hot path (admit, a success). A closed breaker read
        within the last `CLOSED_FRESH_S` is taken as still closed: the read is a round trip to
        Redis or a WAL read transaction in SQLite (about 30 µs), twice a request otherwise. Any
        other state is always read, and this breaker's own writes forget what it saw; so another
        instance's opening reaches this one within `CLOSED_FRESH_S`."""
        now = time.monotonic()
        if now < self._closed_until:
            return self._closed_doc
        doc = await self.store.read(self._key)
        if doc is None or doc["state"] == CircuitState.closed.value:
            self._closed_doc, self._closed_until = doc, now + CLOSED_FRESH_S
        return doc

    async def _update(self, change: Change[R]) -> R:
        self._closed_until = 0.0
        try:
            return await self.store.update(self._key, change)
        finally:
            self._closed_until = 0.0

    async def admit(self) -> bool:
        """May a call go through now? A half-open admission reserves a probe slot."""
        current = await self._read()
        if current is None or (current["state"] == CircuitState.closed.value):
            return True  # the hot path: one read, no write
        now = self.clock()
        if current["state"] == CircuitState.open.value and now < current["open_until"]:
            return False

        def change(doc: Document | None) -> tuple[Document | None, tuple[bool, Transition | None]]:
            doc = doc or _closed()
            transition = None
            if doc["state"] == CircuitState.open.value:
                if now < doc["open_until"]:
                    return doc, (False, None)
                doc, transition = self._move(doc, CircuitState.half_open, "reset timeout elapsed", now)
            if doc["state"] == CircuitState.half_open.value:
                if doc["probes"] >= self.settings.half_open_max:
                    return doc, (False, transition)
                doc["probes"] += 1
            return doc, (True, transition)

        admitted, transition = await self._update(change)
        self._notify(transition)
        return admitted

    async def record_success(self) -> None:
        current = await self._read()
        if current is None or (current["state"] == CircuitState.closed.value and not current["failures"]):
            return
        now = self.clock()

        def change(doc: Document | None) -> tuple[Document | None, Transition | None]:
            doc = doc or _closed()
            transition = None
            if doc["state"] == CircuitState.half_open.value:
                doc, transition = self._move(doc, CircuitState.closed, "probe succeeded", now)
            if doc["state"] == CircuitState.closed.value:
                doc["failures"] = []
            return doc, transition

        self._notify(await self._update(change))

    async def record_failure(self, error: ProviderError) -> None:
        now = self.clock()
        settings = self.settings

        def change(doc: Document | None) -> tuple[Document | None, Transition | None]:
            doc = doc or _closed()
            if doc["state"] == CircuitState.half_open.value:
                return self._open(doc, now, settings.reset_timeout_s, f"probe failed ({error.kind})")
            if doc["state"] == CircuitState.open.value:
                return doc, None  # a call admitted before it opened; it is open already
            if isinstance(error, ProviderRateLimited) and error.retry_after:
                return self._open(
                    doc, now, error.retry_after, f"rate limited, retry after {error.retry_after:g} s"
                )
            failures = [t for t in doc["failures"] if now - t < settings.window_s] + [now]
            doc["failures"] = failures
            if len(failures) >= settings.failure_threshold:
                reason = f"{len(failures)} failures within {settings.window_s:g} s (last: {error.kind})"
                return self._open(doc, now, settings.reset_timeout_s, reason)
            return doc, None

        self._notify(await self._update(change))

    async def release(self) -> None:
        """A call ended with no verdict (the caller went away): free its probe slot."""

        def change(doc: Document | None) -> tuple[Document | None, None]:
            if doc is not None and doc["state"] == CircuitState.half_open.value:
                doc["probes"] = max(0, doc["probes"] - 1)
            return doc, None

        current = await self.store.read(self._key)
        if current is not None and current["state"] == CircuitState.half_open.value:
            await self._update(change)

    async def retry_after(self) -> float:
        current = await self.store.read(self._key)
        return max(0.0, current["open_until"] - self.clock()) if current else 0.0

    async def state(self) -> CircuitState:
        current = await self.store.read(self._key)
        return CircuitState(current["state"]) if current else CircuitState.closed

    async def snapshot(self) -> CircuitSnapshot:
        doc = await self.store.read(self._key) or _closed()
        now = self.clock()
        state = CircuitState(doc["state"])
        recent = len([t for t in doc["failures"] if now - t < self.settings.window_s])
        open_for = max(0.0, doc["open_until"] - now) if state is CircuitState.open else 0.0
        return CircuitSnapshot(self.target, state, recent, open_for, doc["probes"])

    def _open(
        self, doc: Document, now: float, duration: float, reason: str
    ) -> tuple[Document, Transition | None]:
        doc["open_until"] = now + duration
        doc["failures"] = []
        return self._move(doc, CircuitState.open, reason, now)

    def _move(
        self, doc: Document, to_state: CircuitState, reason: str, now: float
    ) -> tuple[Document, Transition | None]:
        from_state = CircuitState(doc["state"])
        if from_state is to_state:
            return doc, None
        doc["state"] = to_state.value
        if to_state is not CircuitState.half_open:
            doc["probes"] = 0
        return doc, Transition(self.target, from_state, to_state, reason, now)

    def _notify(self, transition: Transition | None) -> None:
        if transition is None:
            return
        log.warning(
            "circuit %s: %s -> %s (%s)",
            self.target,
            transition.from_state,
            transition.to_state,
            transition.reason,
        )
        for listener in self.listeners:
            listener(transition)


class BreakerRegistry:
    """One breaker per provider/model, shared by every role that uses the target."""

    def __init__(self, defaults: CircuitBreakerConfig, store: StateStore, clock: Clock = time.time) -> None:
        self._defaults = defaults
        self._store = store
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self.listeners: list[TransitionListener] = []

    def get(self, target: str, settings: CircuitBreakerConfig | None = None) -> CircuitBreaker:
        breaker = self._breakers.get(target)
        if breaker is None:
            breaker = CircuitBreaker(
                target, settings or self._defaults, self._store, clock=self._clock, listeners=self.listeners
            )
            self._breakers[target] = breaker
        return breaker

    async def snapshots(self) -> list[CircuitSnapshot]:
        return [await b.snapshot() for b in self._breakers.values()]


class BreakerProvider(WrapperProvider):
    """A provider that asks its breaker before every call and reports every outcome.

    The breaker guards the provider; it must not become the outage. When its state cannot be
    read or written (a full disk, Redis gone) the call goes through as if there were no breaker
    (fail open) and the outcome is not recorded; one warning says so until bookkeeping works again."""

    def __init__(self, inner: Provider, breaker: CircuitBreaker) -> None:
        super().__init__(inner)
        self.breaker = breaker
        self._store_failing = False

    async def generate(self, request: CompletionRequest) -> Completion:
        await self._admit()
        try:
            completion = await self.inner.generate(request)
        except ProviderError as exc:
            await self._judge(exc)
            raise
        except BaseException:
            await asyncio.shield(self._keep(self._no_verdict()))
            raise
        await self._keep(self.breaker.record_success())
        return completion

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        await self._admit()
        verdict = False
        try:
            async for chunk in self.inner.stream(request):
                if chunk.finish_reason is not None:
                    verdict = True
                    await self._keep(self.breaker.record_success())
                yield chunk
        except ProviderError as exc:
            verdict = True
            await self._judge(exc)
            raise
        finally:
            if not verdict:
                await asyncio.shield(self._keep(self._no_verdict()))

    async def _admit(self) -> None:
        try:
            if await self.breaker.admit():
                return
            retry_after = await self.breaker.retry_after()
        except StateError as exc:
            self._state_lost(exc)
            return
        raise CircuitOpen(self.breaker.target, retry_after)

    async def _no_verdict(self) -> None:
        """A call that ended without an answer or an error: cancelled by the request's deadline (a
        hang, which must count, or a role whose only target hangs never opens) or by its caller
        going away (which says nothing about the provider)."""
        deadline = current_trace().deadline
        if deadline is not None and time.monotonic() >= deadline:
            await self.breaker.record_failure(
                ProviderTimeout("no answer before the request's deadline", provider=self.breaker.target)
            )
        else:
            await self.breaker.release()

    async def _judge(self, error: ProviderError) -> None:
        if error.counts_as_failure:
            await self._keep(self.breaker.record_failure(error))
        else:
            # The caller's own mistake (a 4xx) shows the provider alive: it answered.
            await self._keep(self.breaker.record_success())

    async def _keep(self, bookkeeping: Awaitable[None]) -> None:
        try:
            await bookkeeping
        except StateError as exc:
            self._state_lost(exc)
        else:
            self._store_failing = False

    def _state_lost(self, exc: StateError) -> None:
        if not self._store_failing:
            log.warning("breaker %s works without its state (calls go through): %s", self.breaker.target, exc)
        self._store_failing = True
