"""The state port. Everything that must agree across gateway instances — virtual keys,
budgets, breaker states, the response cache — lives behind it.

Two kinds of operation:
- plain values with a time to live (`get`, `set`, `delete`), for the cache;
- `update(key, change)`: an atomic read-modify-write of one JSON document. `change` gets the
  current document (or None) and returns the new one (None deletes it) and a result. The
  backend guarantees that no other writer, in this process or another, interleaves: SQLite
  runs it in a write transaction, Redis in a WATCH/MULTI transaction retried on conflict.
  `change` must be a pure function of its input: a backend may call it more than once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import orjson

Document = dict[str, Any]
R = TypeVar("R")


def dump(doc: Document) -> str:
    """A document as the stores keep it: JSON text (orjson: a budget or breaker document is
    read and written twice a request, and the standard library's json took several times as long)."""
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode()


Change = Callable[[Document | None], tuple[Document | None, R]]


class StateStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def read(self, key: str) -> Document | None:
        """One JSON document, as `update` keeps it."""
        ...

    async def update(self, key: str, change: Change[R]) -> R: ...

    async def scan(self, prefix: str) -> list[tuple[str, Document]]:
        """Every JSON document whose key starts with `prefix`."""
        ...

    async def aclose(self) -> None: ...
