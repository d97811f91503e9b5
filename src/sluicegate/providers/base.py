"""The provider port (seed 002's LLMAdapter): generate, stream, count tokens.

An adapter translates between our types and one wire protocol, and translates that
protocol's failures into `sluicegate.errors.ProviderError`. Resilience wrappers (breaker,
retry, failover) implement the same port, so they compose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sluicegate.errors import ProviderBadRequest, TruncatedStream
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    Message,
    ToolCall,
    Usage,
)

# Optional request fields a target may or may not honour (declared per adapter; checked per request).
SAMPLING_PARAMETERS = frozenset({"presence_penalty", "frequency_penalty", "logit_bias", "seed"})


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool = True
    tools: bool = False
    json_mode: bool = False
    # Output constrained to a JSON schema (response_format json_schema), natively or translated.
    json_schema: bool = False
    # True when count_tokens uses the model's own tokenizer rather than an estimate.
    exact_token_count: bool = False
    # True when the provider can continue an assistant message it did not write.
    assistant_prefill: bool = False
    # Image parts in user messages.
    vision: bool = False
    # Serves embeddings (POST /v1/embeddings).
    embeddings: bool = False
    # The optional sampling parameters it honours (of SAMPLING_PARAMETERS).
    parameters: frozenset[str] = frozenset()


@runtime_checkable
class Provider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def generate(self, request: CompletionRequest) -> Completion: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield text chunks; the last one carries finish_reason and usage.

        A stream that ends without a finish reason raises `TruncatedStream`.
        """
        ...

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int: ...

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """A vector per input; a provider without embeddings raises `ProviderBadRequest` (and says
        so in its capabilities, so that failover skips it first)."""
        ...

    async def aclose(self) -> None: ...


async def collect(provider_name: str, model: str, chunks: AsyncIterator[Chunk]) -> Completion:
    """Drain a stream into a Completion (for adapters whose generate is their stream)."""
    parts: list[str] = []
    calls: dict[int, ToolCall] = {}
    async for chunk in chunks:
        parts.append(chunk.text)
        for piece in chunk.tool_calls:
            call = calls.get(piece.index, ToolCall("", "", ""))
            calls[piece.index] = ToolCall(
                piece.id or call.id, piece.name or call.name, call.arguments + piece.arguments
            )
        if chunk.finish_reason is not None:
            usage = chunk.usage or Usage()
            assembled = tuple(call for _, call in sorted(calls.items()))
            return Completion("".join(parts), chunk.finish_reason, usage, model, provider_name, assembled)
    raise TruncatedStream("stream ended without a finish reason", provider=provider_name)


async def close_stream(chunks: AsyncIterator[Chunk]) -> None:
    """Close a stream early (the caller went away), so the adapter releases its connection."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def no_embeddings(provider: str) -> ProviderBadRequest:
    """What a provider that serves no embeddings raises if asked (failover skips it before)."""
    return ProviderBadRequest(f"{provider} does not serve embeddings", provider=provider)
