"""State in this process's memory: for a single process that keeps nothing across restarts
(tests, `sluicegate chat`). Atomic because every operation runs to completion on the event
loop without awaiting in between."""

from __future__ import annotations

import copy
import time

from sluicegate.state.base import Change, Document, R


class MemoryStateStore:
    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._docs: dict[str, Document] = {}

    async def get(self, key: str) -> bytes | None:
        found = self._values.get(key)
        if found is None or (found[1] is not None and found[1] <= time.time()):
            return None
        return found[0]

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._values[key] = (value, time.time() + ttl_s if ttl_s is not None else None)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._docs.pop(key, None)

    async def read(self, key: str) -> Document | None:
        found = self._docs.get(key)
        return copy.deepcopy(found) if found is not None else None

    async def update(self, key: str, change: Change[R]) -> R:
        current = self._docs.get(key)
        new, result = change(copy.deepcopy(current) if current is not None else None)
        if new is None:
            self._docs.pop(key, None)
        else:
            self._docs[key] = new
        return result

    async def scan(self, prefix: str) -> list[tuple[str, Document]]:
        return sorted((k, copy.deepcopy(v)) for k, v in self._docs.items() if k.startswith(prefix))

    async def aclose(self) -> None:
        return None
