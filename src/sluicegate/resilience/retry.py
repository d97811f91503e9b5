"""Retries with exponential backoff and full jitter (AWS's "full jitter"; the shape of
stamina and tenacity): only retryable errors, `Retry-After` honoured, bounded by the number
of attempts and by the request's deadline. A stream is retried only before its first chunk;
after that, continuing it is the failover chain's job."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

from sluicegate.calltrace import current_trace
from sluicegate.config.schema import RetryConfig
from sluicegate.errors import ProviderError
from sluicegate.providers.base import Provider
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.types import Chunk, Completion, CompletionRequest, EmbeddingRequest, Embeddings

T = TypeVar("T")


class RetryingProvider(WrapperProvider):
    def __init__(
        self,
        inner: Provider,
        settings: RetryConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(inner)
        self.settings = settings
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock

    def delay(self, retry_number: int, error: ProviderError) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**n)]; never less than Retry-After."""
        ceiling = min(self.settings.max_delay_s, self.settings.base_delay_s * 2.0**retry_number)
        backoff = self._jitter() * ceiling
        return max(backoff, error.retry_after or 0.0)

    async def generate(self, request: CompletionRequest) -> Completion:
        return await self._retried(partial(self.inner.generate, request))

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await self._retried(partial(self.inner.embed, request))

    async def _retried(self, call: Callable[[], Awaitable[T]]) -> T:
        retry_number = 0
        while True:
            try:
                return await call()
            except ProviderError as exc:
                await self._wait_or_raise(exc, retry_number)
                retry_number += 1

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        retry_number = 0
        while True:
            started = False
            try:
                async for chunk in self.inner.stream(request):
                    started = True
                    yield chunk
                return
            except ProviderError as exc:
                if started:
                    raise
                await self._wait_or_raise(exc, retry_number)
                retry_number += 1

    async def _wait_or_raise(self, error: ProviderError, retry_number: int) -> None:
        if not error.retryable or retry_number + 1 >= self.settings.attempts:
            raise error
        if error.retry_after is not None and error.retry_after > self.settings.max_delay_s:
            raise error  # honouring a long Retry-After means not retrying now; the caller hears it
        delay = self.delay(retry_number, error)
        deadline = current_trace().deadline
        if deadline is not None and self._clock() + delay >= deadline:
            raise error  # waiting would outlive the request's deadline
        await self._sleep(delay)
