"""The key ring's memory of whether any key exists: kept once true, asked again at most every
`NO_KEYS_FRESH_S` while false, and never in the way of a presented key."""

from __future__ import annotations

from sluicegate.keys import NO_KEYS_FRESH_S, KeyRing
from sluicegate.pipeline.auth import Gatekeeper
from sluicegate.state.memory import MemoryStateStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_made_elsewhere_closes_auth_within_the_freshness_interval() -> None:
    store, clock = MemoryStateStore(), Clock()
    serving, elsewhere = KeyRing(store, clock=clock), KeyRing(store)
    assert not await serving.ever_created()
    await elsewhere.create("ann")
    assert not await serving.ever_created()  # what it saw a moment ago
    clock.now += NO_KEYS_FRESH_S
    assert await serving.ever_created()
    clock.now += 3600
    assert await serving.ever_created()  # kept: keys are never uncreated


async def test_a_key_made_here_closes_auth_here_at_once() -> None:
    ring = KeyRing(MemoryStateStore(), clock=Clock())
    assert not await ring.ever_created()
    await ring.create("ann")
    assert await ring.ever_created()


async def test_a_presented_key_is_looked_up_even_while_none_was_seen() -> None:
    store, clock = MemoryStateStore(), Clock()
    serving = KeyRing(store, clock=clock)
    gate = Gatekeeper("auto", serving)
    assert await gate.authenticate(None) is None  # open: no key anywhere yet
    secret, made = await KeyRing(store).create("ann")
    key = await gate.authenticate(secret)
    assert key is not None
    assert key.key_id == made.key_id
    assert await serving.ever_created()  # and auth is closed from then on
