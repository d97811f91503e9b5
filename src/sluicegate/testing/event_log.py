"""The event-log port in memory: what was written, kept as it came (tests, in-process benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluicegate.audit.events import Writable
from sluicegate.audit.log import StoredEvent


class MemoryEventLog:
    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep  # False: count only (a benchmark's events are built and queued, not kept)
        self.events: list[Writable] = []
        self.count = 0

    async def append(self, events: Sequence[Writable]) -> None:
        self.count += len(events)
        if self.keep:
            self.events += events

    async def query(self, **_: Any) -> list[StoredEvent]:
        return []

    async def purge(self, before_ts: float) -> int:
        return 0

    async def aclose(self) -> None:
        return None
