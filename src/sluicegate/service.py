"""The chat service: resolve the requested model to a route, apply the route's limits,
run its failover chain within the deadline. This is where the orchestrator (routing state
machine, guardrails, budgets) will sit; the server calls only this."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from sluicegate.errors import GatewayTimeout
from sluicegate.providers.base import close_stream
from sluicegate.resilience.failover import FailoverChain
from sluicegate.routing.roles import RoleTable, RouteSpec
from sluicegate.types import Chunk, Completion, CompletionRequest


class ChatService:
    def __init__(self, roles: RoleTable) -> None:
        self._roles = roles
        self._chains: dict[str, FailoverChain] = {}

    @property
    def roles(self) -> RoleTable:
        return self._roles

    def resolve(self, model: str) -> RouteSpec:
        return self._roles.resolve(model)

    async def complete(self, route: RouteSpec, request: CompletionRequest) -> Completion:
        chain = self._chain(route)
        try:
            async with asyncio.timeout(route.limits.default_timeout):
                return await chain.generate(self._limited(route, request))
        except TimeoutError:
            raise GatewayTimeout(
                f"No answer within the {route.name} timeout of {route.limits.default_timeout:g} s."
            ) from None

    async def stream(self, route: RouteSpec, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Chunks as they come; the deadline bounds the first chunk and every gap between chunks."""
        chain = self._chain(route)
        chunks = chain.stream(self._limited(route, request))
        timeout = route.limits.default_timeout
        try:
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise GatewayTimeout(
                        f"No output within the {route.name} timeout of {timeout:g} s."
                    ) from None
                yield chunk
        finally:
            await close_stream(chunks)

    def _chain(self, route: RouteSpec) -> FailoverChain:
        chain = self._chains.get(route.name)
        if chain is None:
            chain = self._chains[route.name] = FailoverChain(route.name, route.targets)
        return chain

    @staticmethod
    def _limited(route: RouteSpec, request: CompletionRequest) -> CompletionRequest:
        cap = route.limits.max_tokens
        if cap is not None and (request.max_tokens is None or request.max_tokens > cap):
            return replace(request, max_tokens=cap)
        return request
