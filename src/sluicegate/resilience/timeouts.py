"""Per-attempt timeouts: a hanging or dripping provider becomes a `ProviderTimeout` in time
for the chain to fail over, well before the request's own deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

from sluicegate.errors import ProviderTimeout
from sluicegate.providers.base import Provider, close_stream
from sluicegate.resilience.deadline import Deadline, StreamDeadline
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.types import Chunk, Completion, CompletionRequest, EmbeddingRequest, Embeddings

T = TypeVar("T")


class AttemptTimeout(WrapperProvider):
    def __init__(self, inner: Provider, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    async def generate(self, request: CompletionRequest) -> Completion:
        return await self._bounded(partial(self.inner.generate, request))

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await self._bounded(partial(self.inner.embed, request))

    async def _bounded(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with Deadline(self.seconds):
                return await call()
        except TimeoutError:
            raise ProviderTimeout(f"no answer within {self.seconds:g} s", provider=self.name) from None

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """The first chunk and every gap between chunks must come within `seconds`."""
        chunks = self.inner.stream(request)
        deadline = StreamDeadline(self.seconds)
        try:
            while True:
                try:
                    chunk = await deadline.wait(anext(chunks))
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderTimeout(
                        f"no stream output within {self.seconds:g} s", provider=self.name
                    ) from None
                yield chunk
        finally:
            deadline.close()
            await close_stream(chunks)
