"""Redis state, for many gateway instances. `update` is a WATCH/MULTI transaction: if another
writer touched the key between the read and the write, the transaction is discarded and the
change is run again on the fresh document.

Writers of one key in one process take turns first (a lock per key): otherwise every one of N
concurrent updates would WATCH the same version and all but one would be discarded and rerun,
N² round trips for N updates (200 budget reservations for one user took 10 s). WATCH is then
left to settle what only another process can interleave."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson

from sluicegate.errors import StateError
from sluicegate.state.base import Change, Document, R, dump

DOC_PREFIX = "sg:doc:"
KV_PREFIX = "sg:kv:"


class RedisStateStore:
    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis.asyncio as aioredis

        self._errors = _redis_errors()
        self._redis = client or aioredis.from_url(url, max_connections=512)
        self._turns = KeyedLocks()

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(KV_PREFIX + key)
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        try:
            px = max(1, int(ttl_s * 1000)) if ttl_s is not None else None
            await self._redis.set(KV_PREFIX + key, value, px=px)
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(KV_PREFIX + key, DOC_PREFIX + key)
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc

    async def read(self, key: str) -> Document | None:
        try:
            raw = await self._redis.get(DOC_PREFIX + key)
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc
        return orjson.loads(raw) if raw is not None else None

    async def update(self, key: str, change: Change[R]) -> R:
        from redis.exceptions import WatchError

        name = DOC_PREFIX + key
        conflicts = 0
        try:
            async with self._turns.hold(name), self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(name)
                        raw = await pipe.get(name)
                        new, result = change(orjson.loads(raw) if raw is not None else None)
                        pipe.multi()
                        if new is None:
                            pipe.delete(name)
                        else:
                            pipe.set(name, dump(new))
                        await pipe.execute()
                        return result
                    except WatchError:
                        conflicts += 1
                        # Back off a little, with jitter, so contending writers spread out.
                        await asyncio.sleep(random.random() * min(0.05, 0.001 * conflicts))
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc

    async def scan(self, prefix: str) -> list[tuple[str, Document]]:
        try:
            names = [
                name async for name in self._redis.scan_iter(match=_glob_escape(DOC_PREFIX + prefix) + "*")
            ]
            values = await self._redis.mget(names) if names else []
        except self._errors as exc:
            raise StateError(f"redis failed: {type(exc).__name__}") from exc
        found = [
            (name.decode()[len(DOC_PREFIX) :], orjson.loads(value))
            for name, value in zip(names, values, strict=True)
            if value is not None
        ]
        return sorted(found)

    async def aclose(self) -> None:
        await self._redis.aclose()


class KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def _redis_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
