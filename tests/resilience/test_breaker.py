"""The breaker's state machine, on a clock the test controls, over every state backend; and two
breakers on one store (two instances) agreeing."""

from __future__ import annotations

import asyncio

import pytest

from sluicegate.config.base import CircuitBreakerConfig
from sluicegate.errors import ProviderBadRequest, ProviderRateLimited, ProviderServerError, ProviderTimeout
from sluicegate.providers.script import Script
from sluicegate.providers.scripted import ScriptedProvider
from sluicegate.resilience.breaker import (
    CLOSED_FRESH_S,
    BreakerProvider,
    CircuitBreaker,
    CircuitState,
    Transition,
)
from sluicegate.state.base import StateStore
from sluicegate.state.redis import RedisStateStore
from sluicegate.testing.threads import free_port
from sluicegate.types import CompletionRequest, Message

SETTINGS = CircuitBreakerConfig(failure_threshold=3, window_s=60, reset_timeout_s=30, half_open_max=1)
FAIL = ProviderServerError("boom")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(state_store: StateStore) -> StateStore:
    return state_store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transitions() -> list[Transition]:
    return []


@pytest.fixture
def breaker(store: StateStore, clock: Clock, transitions: list[Transition]) -> CircuitBreaker:
    return CircuitBreaker("p/m", SETTINGS, store, clock=clock, listeners=[transitions.append])


def states(transitions: list[Transition]) -> list[tuple[str, str]]:
    return [(t.from_state.value, t.to_state.value) for t in transitions]


async def test_opens_after_threshold_failures_and_refuses(
    breaker: CircuitBreaker, transitions: list[Transition]
) -> None:
    for _ in range(2):
        assert await breaker.admit()
        await breaker.record_failure(FAIL)
    assert await breaker.state() is CircuitState.closed
    assert await breaker.admit()
    await breaker.record_failure(ProviderTimeout("slow"))
    assert await breaker.state() is CircuitState.open
    assert not await breaker.admit()
    assert states(transitions) == [("closed", "open")]
    assert "3 failures within 60 s" in transitions[0].reason


async def test_failures_outside_the_window_do_not_add_up(breaker: CircuitBreaker, clock: Clock) -> None:
    await breaker.record_failure(FAIL)
    await breaker.record_failure(FAIL)
    clock.now += 61
    await breaker.record_failure(FAIL)
    assert await breaker.state() is CircuitState.closed


async def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    await breaker.record_failure(FAIL)
    await breaker.record_failure(FAIL)
    await breaker.record_success()
    await breaker.record_failure(FAIL)
    await breaker.record_failure(FAIL)
    assert await breaker.state() is CircuitState.closed


async def test_half_open_probe_success_closes(
    breaker: CircuitBreaker, clock: Clock, transitions: list[Transition]
) -> None:
    for _ in range(3):
        await breaker.record_failure(FAIL)
    clock.now += 29.9
    assert not await breaker.admit()
    clock.now += 0.2
    assert await breaker.admit()  # the one probe
    assert not await breaker.admit()  # half_open_max = 1
    await breaker.record_success()
    assert await breaker.state() is CircuitState.closed
    assert states(transitions) == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


async def test_half_open_probe_failure_reopens(
    breaker: CircuitBreaker, clock: Clock, transitions: list[Transition]
) -> None:
    for _ in range(3):
        await breaker.record_failure(FAIL)
    clock.now += 30
    assert await breaker.admit()
    await breaker.record_failure(FAIL)
    assert await breaker.state() is CircuitState.open
    assert not await breaker.admit()
    clock.now += 30
    assert await breaker.admit()
    assert states(transitions)[-2:] == [("half_open", "open"), ("open", "half_open")]


async def test_rate_limit_with_retry_after_opens_for_that_long(breaker: CircuitBreaker, clock: Clock) -> None:
    await breaker.record_failure(ProviderRateLimited("slow down", retry_after=5))
    assert await breaker.state() is CircuitState.open
    assert await breaker.retry_after() == 5
    clock.now += 5
    assert await breaker.admit()


async def test_a_released_probe_frees_its_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        await breaker.record_failure(FAIL)
    clock.now += 30
    assert await breaker.admit()
    await breaker.release()
    assert await breaker.admit()


async def test_two_instances_share_one_breaker(store: StateStore, clock: Clock) -> None:
    first = CircuitBreaker("p/m", SETTINGS, store, clock=clock)
    second = CircuitBreaker("p/m", SETTINGS, store, clock=clock)
    await first.record_failure(FAIL)
    await second.record_failure(FAIL)
    await first.record_failure(FAIL)
    assert not await second.admit()
    clock.now += 30
    assert await second.admit()
    assert not await first.admit()  # the single half-open probe is taken, whoever took it


async def test_an_opening_elsewhere_reaches_a_breaker_that_only_reads_within_its_freshness(
    store: StateStore, clock: Clock
) -> None:
    # This instance's hot path reads; a closed state it read is taken as still closed for
    # CLOSED_FRESH_S (its own writes forget it at once, above), then read again.
    reading = CircuitBreaker("p/m", SETTINGS, store, clock=clock)
    failing = CircuitBreaker("p/m", SETTINGS, store, clock=clock)
    assert await reading.admit()
    for _ in range(3):
        await failing.record_failure(FAIL)
    assert await reading.admit()  # what it saw a moment ago
    await asyncio.sleep(CLOSED_FRESH_S + 0.02)
    assert not await reading.admit()


def test_bad_requests_are_not_failures() -> None:
    assert not ProviderBadRequest("bad").counts_as_failure
    assert ProviderTimeout("t").counts_as_failure


async def test_a_breaker_whose_store_is_gone_lets_calls_through(caplog: pytest.LogCaptureFixture) -> None:
    """Redis down (nothing listens on the port): the breaker cannot read or write its state, so
    it neither blocks traffic nor hides the provider's own answers and errors."""
    gone = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0")
    provider = ScriptedProvider(
        "s", Script.parse({"models": {"up": [{"text": "fine"}], "down": [{"fault": "server_error"}]}})
    )
    up = BreakerProvider(provider, CircuitBreaker("s/up", SETTINGS, gone))
    down = BreakerProvider(provider, CircuitBreaker("s/down", SETTINGS, gone))
    request = CompletionRequest(model="up", messages=(Message("user", "hi"),))
    try:
        assert (await up.generate(request)).text == "fine"
        assert "".join([c.text async for c in up.stream(request)]) == "fine"
        for _ in range(SETTINGS.failure_threshold + 2):  # never opens: nothing could be recorded
            with pytest.raises(ProviderServerError):
                await down.generate(CompletionRequest(model="down", messages=request.messages))
    finally:
        await gone.aclose()
    warnings = [r for r in caplog.records if "works without its state" in r.getMessage()]
    assert [r.getMessage().split()[1] for r in warnings] == ["s/up", "s/down"]  # once each, not per call
