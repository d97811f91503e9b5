"""LLM_CALL: each route's provider stack, and one call through it within the route's deadline.

Each route's stack, outside in (every layer is a provider):

    CoalescingProvider      identical in-flight deterministic requests share one call
    ConcurrencyLimiter      the role's max_concurrency, a bounded queue, then 429
    RetryingProvider        backoff with full jitter over the whole chain, before the first chunk
    FailoverChain           the role's targets in order (skipping those that lack what the request
                            needs); mid-stream continuation
      BreakerProvider       per provider/model, shared across roles
        AttemptTimeout      first chunk and every gap, so a hang fails over in time
          adapter
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sluicegate.alerts import Alerter
from sluicegate.budgets import BudgetToken
from sluicegate.calltrace import CallTrace, end_trace, start_trace
from sluicegate.config.schema import Config
from sluicegate.errors import (
    AllProvidersFailed,
    ChainExhausted,
    GatewayTimeout,
    InvalidRequest,
    UnsupportedByTarget,
)
from sluicegate.providers.base import Provider, close_stream
from sluicegate.resilience.breaker import BreakerProvider, BreakerRegistry
from sluicegate.resilience.coalesce import CoalescingProvider
from sluicegate.resilience.deadline import Deadline, StreamDeadline
from sluicegate.resilience.failover import EMBEDDINGS_LACK, FailoverChain, lacks
from sluicegate.resilience.limiter import ConcurrencyLimiter
from sluicegate.resilience.retry import RetryingProvider
from sluicegate.resilience.timeouts import AttemptTimeout
from sluicegate.routing.roles import RoleTable, RouteSpec, Target
from sluicegate.token_estimate import estimate_image_tokens, estimate_tool_tokens
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    NamedTool,
    ToolCallDelta,
)

T = TypeVar("T")


class _OneChunk:
    """An answer as a stream of its one chunk. A plain iterator, not an async generator: a
    non-streamed request pays for no generator bookkeeping on its way through the frames."""

    def __init__(self, pending: Coroutine[Any, Any, Chunk]) -> None:
        self._pending: Coroutine[Any, Any, Chunk] | None = pending

    def __aiter__(self) -> _OneChunk:
        return self

    async def __anext__(self) -> Chunk:
        if self._pending is None:
            raise StopAsyncIteration
        pending, self._pending = self._pending, None
        return await pending

    async def aclose(self) -> None:
        if self._pending is not None:  # closed before it was asked: the call never starts
            self._pending.close()
            self._pending = None


@dataclass
class RouteStack:
    top: Provider
    limiter: ConcurrencyLimiter
    coalescer: CoalescingProvider
    chain: FailoverChain


class RoleStacks:
    def __init__(
        self, roles: RoleTable, config: Config, *, breakers: BreakerRegistry, alerter: Alerter | None = None
    ) -> None:
        self._roles = roles
        self._config = config
        self.breakers = breakers
        self.alerter = alerter or Alerter()
        self._stacks: dict[str, RouteStack] = {}

    @property
    def roles(self) -> RoleTable:
        return self._roles

    def resolve(self, model: str) -> RouteSpec:
        return self._roles.resolve(model)

    def stacks(self) -> dict[str, RouteStack]:
        """Every route's stack, built now if it was not yet (so all breakers are known)."""
        for route in self._roles.roles.values():
            self.stack(route)
        return dict(self._stacks)

    def stack(self, route: RouteSpec) -> RouteStack:
        stack = self._stacks.get(route.name)
        if stack is None:
            stack = self._stacks[route.name] = self._build(route)
        return stack

    @staticmethod
    def check_request(route: RouteSpec, request: CompletionRequest) -> None:
        """Refuse a request that no target of the route can serve as asked (declared capabilities),
        or whose tool choice names no tool it offers."""
        offered = [tool.name for tool in request.tools]
        if len(set(offered)) < len(offered):
            raise InvalidRequest("Each function may be offered once in 'tools'.", param="tools")
        choice = request.tool_choice
        if isinstance(choice, NamedTool) and choice.name not in offered:
            raise InvalidRequest(
                f"tool_choice names '{choice.name}', which is not among the tools.", param="tool_choice"
            )
        if choice == "required" and not offered:
            raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")
        if request.top_logprobs is not None and not request.logprobs:
            raise InvalidRequest("'top_logprobs' needs 'logprobs': true.", param="top_logprobs")
        bad = [token for token in request.logit_bias or () if not (token.isascii() and token.isdigit())]
        if bad:
            raise InvalidRequest(
                f"logit_bias keys are token ids (integers); got '{bad[0]}'.", param="logit_bias"
            )
        found = [lacks(target, request=request) for target in route.targets]
        missing = [lack for lack in found if lack is not None]
        if len(missing) == len(found):
            names = "; ".join(f"{lack} by {t.label}" for t, lack in zip(route.targets, missing, strict=True))
            raise UnsupportedByTarget(
                f"No target of '{route.name}' can serve this request ({names}).", param=missing[0].param
            )

    async def stream(
        self, route: RouteSpec, request: CompletionRequest, call: CallTrace
    ) -> AsyncIterator[Chunk]:
        """Chunks as they come; the deadline bounds the first chunk and every gap between chunks."""
        chunks = self.stack(route).top.stream(request)
        timeout = route.limits.default_timeout
        deadline = StreamDeadline(timeout)
        try:
            while True:
                call.deadline = time.monotonic() + timeout
                try:
                    chunk = await deadline.wait(anext(chunks))
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise GatewayTimeout(
                        f"No output within the {route.name} timeout of {timeout:g} s."
                    ) from None
                except ChainExhausted as exc:
                    raise self._outage(route, call, exc) from None
                if chunk.finish_reason is not None:
                    self.alerter.recovered(route.name)
                yield chunk
        finally:
            deadline.close()
            await close_stream(chunks)

    def answer(self, route: RouteSpec, request: CompletionRequest, call: CallTrace) -> AsyncIterator[Chunk]:
        """One upstream answer (not streamed from the provider), as the one chunk that ends it."""
        return _OneChunk(self._answer(route, request, call))

    async def _answer(self, route: RouteSpec, request: CompletionRequest, call: CallTrace) -> Chunk:
        completion = await self._within(route, call, partial(self.stack(route).top.generate, request))
        calls = tuple(
            ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(completion.tool_calls)
        )
        return Chunk(completion.text, completion.finish_reason, completion.usage, calls, completion.logprobs)

    async def complete(
        self, role: str, request: CompletionRequest, call: CallTrace, budget: BudgetToken
    ) -> Completion:
        """A role's whole answer to a request of the pipeline's own (the router's classification,
        the validator's verdict): the same stack, limits and timeout as any other, paid from the
        workflow's budget token (refused before anything is spent if it cannot pay the worst case)."""
        route = self.resolve(role)
        request = self.limited(route, request)
        budget.ensure(await self.prompt_tokens(route, request) + (request.max_tokens or 0))
        # Its attempts go to its own call record, not to the answer's (`served_by` stays the answer's).
        token = start_trace(call)
        try:
            completion = await self._within(route, call, partial(self.stack(route).top.generate, request))
        finally:
            end_trace(token)
        budget.debit(completion.usage.total_tokens)
        return completion

    def has_role(self, role: str) -> bool:
        return role in self._roles.roles

    async def embed(self, route: RouteSpec, request: EmbeddingRequest, call: CallTrace) -> Embeddings:
        """The route's vectors, through the same breakers, retries, limits and failover."""
        return await self._within(route, call, partial(self.stack(route).top.embed, request))

    async def _within(self, route: RouteSpec, call: CallTrace, answer: Callable[[], Awaitable[T]]) -> T:
        """One whole answer from the route's stack, within the role's timeout."""
        timeout = route.limits.default_timeout
        call.deadline = time.monotonic() + timeout
        try:
            async with Deadline(timeout):
                result = await answer()
        except TimeoutError:
            raise GatewayTimeout(f"No answer within the {route.name} timeout of {timeout:g} s.") from None
        except ChainExhausted as exc:
            raise self._outage(route, call, exc) from None
        self.alerter.recovered(route.name)
        return result

    @staticmethod
    def check_embeddings(route: RouteSpec) -> None:
        if not any(target.provider.capabilities.embeddings for target in route.targets):
            names = "; ".join(f"{EMBEDDINGS_LACK} by {target.label}" for target in route.targets)
            raise UnsupportedByTarget(
                f"No target of '{route.name}' can serve this request ({names}).", param="model"
            )

    async def prompt_tokens(self, route: RouteSpec, request: CompletionRequest) -> int:
        """The prompt as the route's first target counts it, with the tools' definitions and calls
        and the images (estimated: the gateway does not fetch them to learn their size)."""
        first = route.targets[0]
        text = await first.provider.count_tokens(request.messages, first.model)
        return text + estimate_tool_tokens(request) + estimate_image_tokens(request.messages)

    def _outage(self, route: RouteSpec, call: CallTrace, exc: ChainExhausted) -> AllProvidersFailed:
        attempts = call.attempts or exc.attempts
        self.alerter.outage(route.name, attempts)
        return AllProvidersFailed(list(attempts), exc.retry_after, detail=exc.detail)

    def _build(self, route: RouteSpec) -> RouteStack:
        limits = route.limits
        share = limits.attempt_timeout or limits.default_timeout / len(route.targets)
        targets = []
        for index, target in enumerate(route.targets):
            provider_config = self._config.providers.get(target.provider.name)
            override = provider_config.circuit_breaker if provider_config is not None else None
            breaker = self.breakers.get(target.label, override)
            # The last target has nobody to fail over to: it may use the whole deadline.
            last = index == len(route.targets) - 1
            attempt_timeout = limits.default_timeout if last else share
            guarded = BreakerProvider(AttemptTimeout(target.provider, attempt_timeout), breaker)
            targets.append(Target(guarded, target.model))
        chain = FailoverChain(route.name, targets)
        limiter = ConcurrencyLimiter(
            RetryingProvider(chain, self._config.retry),
            role=route.name,
            max_concurrency=limits.max_concurrency,
            max_queue=limits.max_queue,
            queue_timeout=limits.queue_timeout,
        )
        coalescer = CoalescingProvider(limiter, scope=route.name)
        return RouteStack(top=coalescer, limiter=limiter, coalescer=coalescer, chain=chain)

    @staticmethod
    def limited(route: RouteSpec, request: CompletionRequest) -> CompletionRequest:
        cap = route.limits.max_tokens
        if cap is not None and (request.max_tokens is None or request.max_tokens > cap):
            return request.but(max_tokens=cap)
        return request
