"""The breaker's state machine, on a clock the test controls."""

from __future__ import annotations

import pytest

from sluicegate.config.schema import CircuitBreakerConfig
from sluicegate.errors import ProviderBadRequest, ProviderRateLimited, ProviderServerError, ProviderTimeout
from sluicegate.resilience.breaker import CircuitBreaker, CircuitState, Transition


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transitions() -> list[Transition]:
    return []


@pytest.fixture
def breaker(clock: Clock, transitions: list[Transition]) -> CircuitBreaker:
    settings = CircuitBreakerConfig(failure_threshold=3, window_s=60, reset_timeout_s=30, half_open_max=1)
    return CircuitBreaker("p/m", settings, clock, [transitions.append])


FAIL = ProviderServerError("boom")


def states(transitions: list[Transition]) -> list[tuple[str, str]]:
    return [(t.from_state.value, t.to_state.value) for t in transitions]


def test_opens_after_threshold_failures_and_refuses(
    breaker: CircuitBreaker, transitions: list[Transition]
) -> None:
    for _ in range(2):
        assert breaker.admit()
        breaker.record_failure(FAIL)
    assert breaker.state is CircuitState.closed
    assert breaker.admit()
    breaker.record_failure(ProviderTimeout("slow"))
    assert breaker.state is CircuitState.open
    assert not breaker.admit()
    assert states(transitions) == [("closed", "open")]
    assert "3 failures within 60 s" in transitions[0].reason


def test_failures_outside_the_window_do_not_add_up(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure(FAIL)
    breaker.record_failure(FAIL)
    clock.now += 61
    breaker.record_failure(FAIL)
    assert breaker.state is CircuitState.closed


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    breaker.record_failure(FAIL)
    breaker.record_failure(FAIL)
    breaker.record_success()
    breaker.record_failure(FAIL)
    breaker.record_failure(FAIL)
    assert breaker.state is CircuitState.closed


def test_half_open_probe_success_closes(
    breaker: CircuitBreaker, clock: Clock, transitions: list[Transition]
) -> None:
    for _ in range(3):
        breaker.record_failure(FAIL)
    clock.now += 29.9
    assert not breaker.admit()
    clock.now += 0.2
    assert breaker.admit()  # the one probe
    assert not breaker.admit()  # half_open_max = 1
    breaker.record_success()
    assert breaker.state is CircuitState.closed
    assert states(transitions) == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_half_open_probe_failure_reopens(
    breaker: CircuitBreaker, clock: Clock, transitions: list[Transition]
) -> None:
    for _ in range(3):
        breaker.record_failure(FAIL)
    clock.now += 30
    assert breaker.admit()
    breaker.record_failure(FAIL)
    assert breaker.state is CircuitState.open
    assert not breaker.admit()
    clock.now += 30
    assert breaker.admit()
    assert states(transitions)[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_rate_limit_with_retry_after_opens_for_that_long(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure(ProviderRateLimited("slow down", retry_after=5))
    assert breaker.state is CircuitState.open
    assert breaker.retry_after() == 5
    clock.now += 5
    assert breaker.admit()


def test_a_released_probe_frees_its_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.record_failure(FAIL)
    clock.now += 30
    assert breaker.admit()
    breaker.release()
    assert breaker.admit()


def test_bad_requests_are_not_failures() -> None:
    assert not ProviderBadRequest("bad").counts_as_failure
    assert ProviderTimeout("t").counts_as_failure
