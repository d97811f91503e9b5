"""The base of provider wrappers: delegate everything, override what the wrapper is about."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sluicegate.providers.base import Capabilities, Provider
from sluicegate.types import Chunk, Completion, CompletionRequest, EmbeddingRequest, Embeddings, Message


class WrapperProvider:
    def __init__(self, inner: Provider) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def generate(self, request: CompletionRequest) -> Completion:
        return await self.inner.generate(request)

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return self.inner.stream(request)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        return await self.inner.count_tokens(messages, model)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await self.inner.embed(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
