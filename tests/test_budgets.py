"""Budgets: a true sliding window on a clock the test controls, reservations that expire, and a
budget token that caps a workflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.budgets import BudgetLedger, BudgetToken
from sluicegate.errors import BudgetExceeded, BudgetExhausted
from sluicegate.state.memory import MemoryStateStore
from sluicegate.state.sqlite import SqliteStateStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> BudgetLedger:
    return BudgetLedger(MemoryStateStore(), window_s=3600, clock=clock)


async def spend(ledger: BudgetLedger, tokens: int, limit: int = 1000) -> None:
    reservation = await ledger.reserve("ann", tokens, limit, hold_s=60)
    await ledger.commit(reservation, tokens)


async def test_the_window_slides_rather_than_resets(ledger: BudgetLedger, clock: Clock) -> None:
    await spend(ledger, 600)
    clock.now += 1800
    await spend(ledger, 400)
    with pytest.raises(BudgetExceeded) as caught:
        await ledger.reserve("ann", 100, 1000, hold_s=60)
    # The first 600 leave the window an hour after they were spent: 30 minutes from now.
    assert 1795 <= caught.value.retry_after <= 1805
    clock.now += 1805
    await spend(ledger, 500)  # the 600 have aged out, the 400 have not
    with pytest.raises(BudgetExceeded):
        await ledger.reserve("ann", 200, 1000, hold_s=60)


async def test_reservations_count_until_committed(ledger: BudgetLedger) -> None:
    held = await ledger.reserve("ann", 900, 1000, hold_s=60)
    with pytest.raises(BudgetExceeded):
        await ledger.reserve("ann", 200, 1000, hold_s=60)
    await ledger.commit(held, 100)  # the rest is released
    await ledger.reserve("ann", 800, 1000, hold_s=60)


async def test_a_crashed_requests_reservation_expires(ledger: BudgetLedger, clock: Clock) -> None:
    await ledger.reserve("ann", 900, 1000, hold_s=60)  # never committed
    with pytest.raises(BudgetExceeded) as caught:
        await ledger.reserve("ann", 200, 1000, hold_s=60)
    assert caught.value.retry_after <= 60
    clock.now += 61
    await ledger.reserve("ann", 200, 1000, hold_s=60)


async def test_users_are_separate_and_usage_is_reported(ledger: BudgetLedger) -> None:
    await spend(ledger, 700)
    await ledger.reserve("bob", 700, 1000, hold_s=60)
    usage = await ledger.usage("ann", 1000)
    assert (usage.used, usage.reserved, usage.remaining) == (700, 0, 300)
    assert (await ledger.usage("bob", 1000)).reserved == 700
    assert sorted(await ledger.users()) == ["ann", "bob"]


async def test_a_request_larger_than_the_budget_is_refused(ledger: BudgetLedger) -> None:
    with pytest.raises(BudgetExceeded, match="budget is 1000"):
        await ledger.reserve("ann", 1001, 1000, hold_s=60)


async def test_budgets_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    await spend(BudgetLedger(store, clock=clock), 900)
    await store.aclose()
    reopened = SqliteStateStore(tmp_path / "state.db")
    with pytest.raises(BudgetExceeded):
        await BudgetLedger(reopened, clock=clock).reserve("ann", 200, 1000, hold_s=60)
    await reopened.aclose()


def test_budget_token_caps_a_workflow() -> None:
    token = BudgetToken.mint("remediation", 100)
    token.ensure(60)
    token.debit(60)
    with pytest.raises(BudgetExhausted) as caught:
        token.ensure(50)
    assert (caught.value.needed, caught.value.remaining) == (50, 40)
    with pytest.raises(ValueError, match="positive"):
        BudgetToken.mint("w", 0)


async def test_at_least_takes_what_is_left(ledger: BudgetLedger) -> None:
    await spend(ledger, 700)
    granted = await ledger.reserve("ann", 4096, 1000, hold_s=60, at_least=10)
    assert granted.tokens == 300
    with pytest.raises(BudgetExceeded):
        await ledger.reserve("ann", 4096, 1000, hold_s=60, at_least=10)


async def test_the_running_total_matches_the_window_over_hours_of_history(clock: Clock) -> None:
    # Usage committed every few seconds for three hours: what the ledger reports as used is, at
    # every step, exactly what was committed within the last hour (its five-second buckets).
    ledger = BudgetLedger(MemoryStateStore(), window_s=3600, clock=clock)
    committed: list[tuple[float, int]] = []
    for step in range(3 * 3600 // 7):
        tokens = 1 + step % 13
        reservation = await ledger.reserve("ann", tokens, 10**9, hold_s=60)
        await ledger.commit(reservation, tokens)
        committed.append((clock.now // 5 * 5, tokens))
        clock.now += 7
        if step % 97 == 0:
            expected = sum(t for start, t in committed if start + 5 > clock.now - 3600)
            assert (await ledger.usage("ann", None)).used == expected


async def test_a_document_written_without_the_running_total_is_counted_whole(clock: Clock) -> None:
    store = MemoryStateStore()
    start = str(int(clock.now // 5 * 5))
    older = str(int(clock.now // 5 * 5) - 4000)  # out of the window already
    await store.update("budget:ann", lambda _: ({"buckets": {older: 70, start: 30}, "held": {}}, None))
    ledger = BudgetLedger(store, window_s=3600, clock=clock)
    assert (await ledger.usage("ann", None)).used == 30
    await spend(ledger, 20)
    assert (await ledger.usage("ann", None)).used == 50
