"""The event log port, and the trail that writes to it without ever holding up a request.

`AuditTrail.emit` only puts the event on a bounded queue; a background task writes batches
to the `EventLog`. A full queue or a failing store (a full disk, a database that is down)
never blocks or fails the request: the event is dropped and counted, and the count is
exported as a metric. Nothing is lost without being counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sluicegate.audit.events import Event, EventType, Payload, Record, Writable

log = logging.getLogger("sluicegate.audit")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: Event


class EventLog(Protocol):
    async def append(self, events: Sequence[Writable]) -> None: ...

    async def query(
        self,
        *,
        trace_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Events in the order they were written (or the newest first); `after_id` pages forward."""
        ...

    async def purge(self, before_ts: float) -> int: ...

    async def aclose(self) -> None: ...


class AuditTrail:
    def __init__(
        self,
        store: EventLog | None,
        *,
        capacity: int = 10_000,
        batch_size: int = 2048,
        retention_s: float | None = None,
        linger_s: float = 0.05,
        on_drop: Callable[[int], None] | None = None,
        on_write: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.batch_size = batch_size
        self.retention_s = retention_s
        self.linger_s = linger_s
        # A plain deque and a wake-up, not an asyncio.Queue: an event is put on every request's
        # path several times, and appending to a deque is what that costs (a Queue put is ~1.5 µs).
        self._pending: deque[Writable] = deque()
        self._arrived: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None
        self._writing = 0
        self._task: asyncio.Task[None] | None = None
        self._on_drop = on_drop
        self._on_write = on_write
        self.dropped = 0
        self.written = 0

    def emit(self, trace_id: str, payload: Payload) -> None:
        if self.store is not None:
            self.emit_event(Record.of(trace_id, payload))

    def emit_fields(self, trace_id: str, kind: EventType, fields: dict[str, Any]) -> None:
        """An event made from typed values of our own (the orchestrator's moves, several per
        request): no payload model built and dumped on the request's path."""
        if self.store is not None:
            self.emit_event(Record(kind, trace_id, fields))

    def emit_event(self, event: Writable) -> None:
        if self.store is None:
            return
        if len(self._pending) >= self.capacity:
            self._drop(1)
            return
        self._pending.append(event)
        arrived = self._ensure_writer()
        if not arrived.is_set():
            arrived.set()

    def _ensure_writer(self) -> asyncio.Event:
        if self._arrived is None or self._task is None or self._task.done():
            # A new writer gets new events: the old ones may belong to a loop that has ended (a
            # trail used by one `asyncio.run` after another); what is pending carries over.
            self._arrived, self._drained = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._write_forever(self._arrived))
        return self._arrived

    async def _write_forever(self, arrived: asyncio.Event) -> None:
        assert self.store is not None
        await self._purge()
        last_purge = time.monotonic()
        while True:
            if not self._pending:
                if self._drained is not None:
                    self._drained.set()
                arrived.clear()
                await arrived.wait()
            if len(self._pending) < self.batch_size:
                # Linger a moment before every batch that is not full, not only after an idle
                # spell: under a steady load a write always finds a few events that came while it
                # ran, and writing them at once kept the writer busy during almost every request's
                # wait for its upstream (at c=1, 35 µs more on the median request: README, "What
                # moved the numbers, fourth round"). One write a linger, whatever the load.
                await asyncio.sleep(self.linger_s)
            count = min(len(self._pending), self.batch_size)
            batch = [self._pending.popleft() for _ in range(count)]
            self._writing = count
            try:
                await self._write(batch)
            finally:
                self._writing = 0
            if time.monotonic() - last_purge > 3600:
                await self._purge()
                last_purge = time.monotonic()

    async def _write(self, batch: list[Writable]) -> None:
        assert self.store is not None
        try:
            await self.store.append(batch)
        except Exception as exc:  # noqa: BLE001 - a failing store must not fail requests; the loss is counted
            log.warning("audit write failed, %d events dropped: %s", len(batch), type(exc).__name__)
            self._drop(len(batch))
            return
        self.written += len(batch)
        if self._on_write is not None:
            self._on_write(len(batch))

    async def _purge(self) -> None:
        if self.store is None or self.retention_s is None:
            return
        try:
            await self.store.purge(time.time() - self.retention_s)
        except Exception as exc:  # noqa: BLE001 - retention is housekeeping; it never stops the writer
            log.warning("audit retention purge failed: %s", type(exc).__name__)

    def _drop(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    async def flush(self) -> None:
        """Wait until every queued event is written (or dropped)."""
        while (self._pending or self._writing) and self._task is not None and not self._task.done():
            assert self._drained is not None
            self._drained.clear()
            await self._drained.wait()

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Write what is queued, waiting at most `grace_s`; whatever is left is counted as dropped."""
        try:
            await asyncio.wait_for(self.flush(), grace_s)
        except TimeoutError:
            self._drop(len(self._pending))
            self._pending.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.store is not None:
            await self.store.aclose()
