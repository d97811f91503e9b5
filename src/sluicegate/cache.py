"""The response cache (seed 002): keyed by the SHA-256 of the canonical request (the route and
every field that changes the output), with a time to live. Only deterministic requests are
cached unless the caller opts in; a request whose input carries PII is never written. A corrupt
or unreadable entry is a miss, never an error."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from sluicegate.errors import StateError
from sluicegate.guardrails.pii import contains_pii
from sluicegate.resilience.coalesce import coalescible, request_key
from sluicegate.state.base import StateStore
from sluicegate.types import Completion, CompletionRequest, EmbeddingRequest, Embeddings, Message, Usage

log = logging.getLogger("sluicegate.cache")


def cacheable(request: CompletionRequest) -> bool:
    # A stored answer keeps its text, not its tokens' log probabilities.
    return coalescible(request) and not request.logprobs


def carries_pii(messages: Sequence[Message]) -> bool:
    return any(contains_pii(m.content) for m in messages)


class ResponseCache:
    def __init__(self, store: StateStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    @staticmethod
    def key(route: str, request: CompletionRequest) -> str:
        return request_key(route, request, streaming=False)

    async def get(self, key: str) -> Completion | None:
        raw = await self._read(f"cache:{key}")
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            usage = Usage(int(data["usage"][0]), int(data["usage"][1]))
            return Completion(
                str(data["text"]), data["finish_reason"], usage, str(data["model"]), str(data["provider"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
            log.warning("corrupt cache entry %s, treated as a miss", key[:12])
            return None

    @staticmethod
    def embeddings_key(route: str, request: EmbeddingRequest) -> str:
        return request_key(route, request, streaming=False)

    async def get_embeddings(self, key: str) -> Embeddings | None:
        raw = await self._read(f"embeddings:{key}")
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            vectors = tuple(tuple(float(x) for x in vector) for vector in data["vectors"])
            return Embeddings(vectors, Usage(int(data["prompt_tokens"]), 0), str(data["model"]), "")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("corrupt cache entry %s, treated as a miss", key[:12])
            return None

    async def put_embeddings(self, key: str, embeddings: Embeddings) -> None:
        data = {
            "vectors": embeddings.vectors,
            "prompt_tokens": embeddings.usage.prompt_tokens,
            "model": embeddings.model,
        }
        await self._write(f"embeddings:{key}", orjson.dumps(data))

    async def _read(self, key: str) -> bytes | None:
        try:
            return await self.store.get(key)
        except StateError as exc:
            log.warning("cache read failed, treated as a miss: %s", exc)
            return None

    async def _write(self, key: str, value: bytes) -> None:
        try:
            await self.store.set(key, value, self.ttl_s)
        except StateError as exc:
            log.warning("cache write failed: %s", exc)

    async def put(self, key: str, completion: Completion) -> None:
        data = {
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "usage": [completion.usage.prompt_tokens, completion.usage.completion_tokens],
            "model": completion.model,
            "provider": completion.provider,
        }
        await self._write(f"cache:{key}", orjson.dumps(data))
