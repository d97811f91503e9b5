"""The breaker's state machine, on a clock the test controls, over every state backend; and two
breakers on one store (two instances) agreeing."""

from __future__ import annotations

import pytest

from sluicegate.config.schema import CircuitBreakerConfig
from sluicegate.errors import ProviderBadRequest, ProviderRateLimited, ProviderServerError, ProviderTimeout
from sluicegate.resilience.breaker import CircuitBreaker, CircuitState, Transition
from sluicegate.state.base import StateStore

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


def test_bad_requests_are_not_failures() -> None:
    assert not ProviderBadRequest("bad").counts_as_failure
    assert ProviderTimeout("t").counts_as_failure
