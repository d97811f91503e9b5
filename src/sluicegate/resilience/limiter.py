"""Per-role concurrency: at most `max_concurrency` calls in flight; the excess waits in a
bounded queue for at most `queue_timeout`, then gets 429 with Retry-After. Never an
unbounded pile-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

from sluicegate.errors import Overloaded
from sluicegate.providers.base import Provider
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.types import Chunk, Completion, CompletionRequest, EmbeddingRequest, Embeddings

T = TypeVar("T")


class ConcurrencyLimiter(WrapperProvider):
    def __init__(
        self, inner: Provider, *, role: str, max_concurrency: int, max_queue: int, queue_timeout: float
    ) -> None:
        super().__init__(inner)
        self.role = role
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self._slots = asyncio.Semaphore(max_concurrency)
        self.in_flight = 0
        self.waiting = 0

    async def generate(self, request: CompletionRequest) -> Completion:
        return await self._admitted(partial(self.inner.generate, request))

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await self._admitted(partial(self.inner.embed, request))

    async def _admitted(self, call: Callable[[], Awaitable[T]]) -> T:
        await self._acquire()
        try:
            return await call()
        finally:
            self._release()

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        await self._acquire()
        try:
            async for chunk in self.inner.stream(request):
                yield chunk
        finally:
            self._release()

    async def _acquire(self) -> None:
        if not self._slots.locked():
            # A free slot is taken at once: no queue, and no timer to arm and cancel.
            await self._slots.acquire()
            self.in_flight += 1
            return
        if self.waiting >= self.max_queue:
            raise Overloaded(
                f"The {self.role} role is at capacity and its queue is full.", self._retry_after()
            )
        self.waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise Overloaded(
                f"The {self.role} role stayed at capacity for {self.queue_timeout:g} s.", self._retry_after()
            ) from None
        finally:
            self.waiting -= 1
        self.in_flight += 1

    def _release(self) -> None:
        self.in_flight -= 1
        self._slots.release()

    def _retry_after(self) -> float:
        return max(1.0, self.queue_timeout)
