"""The audit trail never blocks or fails a request: a full queue and a failing store drop
events, and every dropped event is counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sluicegate.audit.events import CacheHit, Event
from sluicegate.audit.log import AuditTrail, StoredEvent


class StuckStore:
    """A store whose writes never finish (a hung database)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def append(self, events: Sequence[Event]) -> None:
        await self.release.wait()

    async def query(self, **_: object) -> list[StoredEvent]:
        return []

    async def purge(self, before_ts: float) -> int:
        return 0

    async def aclose(self) -> None:
        self.release.set()


class FullDiskStore(StuckStore):
    async def append(self, events: Sequence[Event]) -> None:
        raise OSError(28, "No space left on device")


async def test_a_full_queue_never_blocks_and_counts_what_it_drops() -> None:
    dropped: list[int] = []
    trail = AuditTrail(StuckStore(), capacity=10, batch_size=5, on_drop=dropped.append)
    started = time.perf_counter()
    for _ in range(10_000):
        trail.emit("t", CacheHit(key="k"))
    assert time.perf_counter() - started < 3.0  # ten thousand emits without waiting on the stuck store
    await asyncio.sleep(0)  # the writer takes its first batch off the queue
    trail.emit("t", CacheHit(key="k"))
    assert trail.dropped >= 10_000 - 10 - 5
    assert sum(dropped) == trail.dropped
    await trail.aclose(grace_s=0.1)
    assert trail.dropped >= 10_000 - 5  # what was still queued at close is counted too


async def test_a_failing_store_is_counted_not_raised() -> None:
    trail = AuditTrail(FullDiskStore(), capacity=100)
    for _ in range(7):
        trail.emit("t", CacheHit(key="k"))
    await trail.flush()
    assert trail.dropped == 7
    assert trail.written == 0
    await trail.aclose()


class SlowStore(StuckStore):
    """A store whose every write takes a while (a disk), counting the writes."""

    def __init__(self, write_s: float) -> None:
        super().__init__()
        self.write_s = write_s
        self.batches: list[int] = []

    async def append(self, events: Sequence[Event]) -> None:
        await asyncio.sleep(self.write_s)
        self.batches.append(len(events))


async def test_a_steady_trickle_of_events_is_written_once_a_linger_not_once_a_write() -> None:
    """Events that arrive while a batch is written wait out a linger of their own. They used to be
    written as soon as the write before them ended, so under a steady load the writer never
    rested: a write of a few rows during nearly every request's wait for its upstream."""
    store = SlowStore(write_s=0.005)
    trail = AuditTrail(store, linger_s=0.1)
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        trail.emit("t", CacheHit(key="k"))
        await asyncio.sleep(0.001)
    await trail.flush()
    assert sum(store.batches) == trail.written > 200
    assert len(store.batches) <= 7  # 0.5 s of events, a write every 0.1 s (and the last one)
    await trail.aclose()


async def test_a_full_batch_is_written_without_lingering() -> None:
    store = SlowStore(write_s=0)
    trail = AuditTrail(store, batch_size=10, linger_s=60)
    for _ in range(25):
        trail.emit("t", CacheHit(key="k"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert store.batches == [10, 10]  # the five left over wait for the linger
    await trail.aclose(grace_s=0.05)
    assert trail.dropped == 5


def test_a_trail_used_by_one_event_loop_after_another_keeps_writing() -> None:
    """Its writer's wake-up belonged to the first loop: the second loop's writer died on it, and
    every event after that started another writer that died too."""
    from sluicegate.testing.event_log import MemoryEventLog

    store = MemoryEventLog()
    trail = AuditTrail(store, linger_s=0)

    async def emit_and_flush(count: int) -> None:
        for _ in range(count):
            trail.emit("t", CacheHit(key="k"))
        await trail.flush()

    asyncio.run(emit_and_flush(3))
    asyncio.run(emit_and_flush(4))
    assert store.count == 7
    assert trail.dropped == 0


def test_trace_ids_are_unique_and_ordered_by_time() -> None:
    """Time-ordered ids keep a request's audit rows at the end of the trace-id index."""
    import time

    from sluicegate.calltrace import new_trace_id

    first = [new_trace_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_trace_id()
    assert len(set(first)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)
    assert max(first) < later
