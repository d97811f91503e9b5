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
from sluicegate.types import Completion, CompletionRequest, Message, Usage

log = logging.getLogger("sluicegate.cache")


def cacheable(request: CompletionRequest) -> bool:
    return coalescible(request)


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
        try:
            raw = await self.store.get(f"cache:{key}")
        except StateError as exc:
            log.warning("cache read failed, treated as a miss: %s", exc)
            return None
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

    async def put(self, key: str, completion: Completion) -> None:
        data = {
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "usage": [completion.usage.prompt_tokens, completion.usage.completion_tokens],
            "model": completion.model,
            "provider": completion.provider,
        }
        try:
            await self.store.set(f"cache:{key}", orjson.dumps(data), self.ttl_s)
        except StateError as exc:
            log.warning("cache write failed: %s", exc)
