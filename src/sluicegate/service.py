"""The chat service: resolve the requested model to a route, run the route's provider stack
within the deadline. This is where the orchestrator (routing state machine, guardrails,
budgets) will sit; the server calls only this.

Each route's stack, outside in (every layer is a provider):

    CoalescingProvider      identical in-flight deterministic requests share one call
    ConcurrencyLimiter      the role's max_concurrency, a bounded queue, then 429
    RetryingProvider        backoff with full jitter over the whole chain, before the first chunk
    FailoverChain           the role's targets in order; mid-stream continuation
      BreakerProvider       per provider/model, shared across roles
        AttemptTimeout      first chunk and every gap, so a hang fails over in time
          adapter
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from sluicegate.alerts import Alerter
from sluicegate.budgets import Reservation
from sluicegate.calltrace import CallTrace, current_trace
from sluicegate.config.schema import Config
from sluicegate.costs import CostControls, usage_of
from sluicegate.errors import AllProvidersFailed, ChainExhausted, GatewayError, GatewayTimeout, PolicyRefused
from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.inline import ScanResult
from sluicegate.guardrails.tier0 import Tier0Gate
from sluicegate.observability.recorder import Recorder
from sluicegate.providers.base import Provider, close_stream
from sluicegate.providers.script import WORD_CHUNKS
from sluicegate.resilience.breaker import BreakerProvider, BreakerRegistry
from sluicegate.resilience.coalesce import CoalescingProvider
from sluicegate.resilience.failover import FailoverChain
from sluicegate.resilience.limiter import ConcurrencyLimiter
from sluicegate.resilience.retry import RetryingProvider
from sluicegate.resilience.timeouts import AttemptTimeout
from sluicegate.routing.roles import RoleTable, RouteSpec, Target
from sluicegate.types import Chunk, Completion, CompletionRequest, Usage


@dataclass
class RouteStack:
    top: Provider
    limiter: ConcurrencyLimiter
    coalescer: CoalescingProvider
    chain: FailoverChain


class ChatService:
    def __init__(
        self,
        roles: RoleTable,
        config: Config,
        *,
        recorder: Recorder,
        costs: CostControls,
        breakers: BreakerRegistry,
        alerter: Alerter | None = None,
    ) -> None:
        self._roles = roles
        self._config = config
        self._recorder = recorder
        self._costs = costs
        self._guard = InlineGuard(config.guardrails)
        self._tier0 = Tier0Gate(config.guardrails.tier0)
        self.breakers = breakers
        self.alerter = alerter or Alerter()
        self._stacks: dict[str, RouteStack] = {}
        self._finishing: set[asyncio.Future[None]] = set()

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

    async def complete(
        self, route: RouteSpec, request: CompletionRequest, *, endpoint: str = "/v1/chat/completions"
    ) -> Completion:
        trace = current_trace()
        self._recorder.received(trace, endpoint, route.name, False, request.messages)
        outcome, completion = "error", None
        try:
            self._gate(trace, request)
            hit = await self._costs.cached(trace, route, request)
            if hit is not None:
                outcome, completion = "ok", hit
                return hit
            prompt_tokens = await self._prompt_tokens(route, request)
            reservation, request = await self._costs.reserve(
                trace, route, self._limited(route, request), prompt_tokens
            )
            try:
                completion = await self._generate(route, request, trace)
            finally:
                await self._costs.settle(
                    trace, reservation, completion.usage if completion else None, prompt_tokens=prompt_tokens
                )
            completion = self._guarded(trace, completion)
            if completion.finish_reason != "content_filter":
                await self._costs.remember(route, request, completion)
            outcome = "ok"
            return completion
        except GatewayError as exc:
            outcome = exc.code or "error"
            raise
        finally:
            spent = completion.usage if completion is not None and trace.cache != "hit" else None
            self._recorder.completed(
                trace,
                role=route.name,
                outcome=outcome,
                usage=spent,
                text=completion.text if completion else None,
            )

    async def _generate(self, route: RouteSpec, request: CompletionRequest, trace: CallTrace) -> Completion:
        timeout = route.limits.default_timeout
        trace.deadline = time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                completion = await self.stack(route).top.generate(request)
        except TimeoutError:
            raise GatewayTimeout(f"No answer within the {route.name} timeout of {timeout:g} s.") from None
        except ChainExhausted as exc:
            raise self._outage(route, exc) from None
        self.alerter.recovered(route.name)
        return completion

    async def stream(
        self, route: RouteSpec, request: CompletionRequest, *, endpoint: str = "/v1/chat/completions"
    ) -> AsyncIterator[Chunk]:
        """Chunks as they come; the deadline bounds the first chunk and every gap between chunks."""
        trace = current_trace()
        self._recorder.received(trace, endpoint, route.name, True, request.messages)
        said: list[str] = []
        # What it stays if the stream ends neither with an answer nor an error: the caller left.
        outcome: str = "client_disconnected"
        usage: Usage | None = None
        reservation: Reservation | None = None
        prompt_tokens = 0
        try:
            self._gate(trace, request)
            hit = await self._costs.cached(trace, route, request)
            if hit is not None:
                async for chunk in replay(hit):
                    yield chunk
                outcome = "ok"
                return
            prompt_tokens = await self._prompt_tokens(route, request)
            reservation, request = await self._costs.reserve(
                trace, route, self._limited(route, request), prompt_tokens
            )
            shown: list[str] = []
            async for chunk in self._guarded_stream(trace, self._stream(route, request, trace), said):
                shown.append(chunk.text)
                if chunk.finish_reason is not None:
                    outcome, usage = "ok", chunk.usage
                    completion = Completion(
                        "".join(shown),
                        chunk.finish_reason,
                        chunk.usage or Usage(),
                        request.model,
                        trace.served_by or "",
                    )
                    if chunk.finish_reason != "content_filter":
                        await self._costs.remember(route, request, completion)
                yield chunk
        except GatewayError as exc:
            outcome = exc.code or "error"
            raise
        finally:
            # A task of its own: when the caller goes away, its cancellation must not stop the
            # usage being committed nor the completion record being written.
            finish = asyncio.ensure_future(
                self._finish_stream(trace, route, reservation, usage, prompt_tokens, "".join(said), outcome)
            )
            self._finishing.add(finish)
            finish.add_done_callback(self._finishing.discard)
            await asyncio.shield(finish)

    async def _finish_stream(
        self,
        trace: CallTrace,
        route: RouteSpec,
        reservation: Reservation | None,
        usage: Usage | None,
        prompt_tokens: int,
        said: str,
        outcome: str,
    ) -> None:
        try:
            await self._costs.settle(trace, reservation, usage, prompt_tokens=prompt_tokens, said=said)
        finally:
            # Cut short, no usage was reported: record what was asked and said, as settled.
            counted = usage_of(usage, prompt_tokens, said)
            self._recorder.completed(trace, role=route.name, outcome=outcome, usage=counted, text=said)

    async def _stream(
        self, route: RouteSpec, request: CompletionRequest, trace: CallTrace
    ) -> AsyncIterator[Chunk]:
        chunks = self.stack(route).top.stream(request)
        timeout = route.limits.default_timeout
        try:
            while True:
                trace.deadline = time.monotonic() + timeout
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise GatewayTimeout(
                        f"No output within the {route.name} timeout of {timeout:g} s."
                    ) from None
                except ChainExhausted as exc:
                    raise self._outage(route, exc) from None
                if chunk.finish_reason is not None:
                    self.alerter.recovered(route.name)
                yield chunk
        finally:
            await close_stream(chunks)

    def _gate(self, trace: CallTrace, request: CompletionRequest) -> None:
        """Tier 0: refuse before any token (or budget) is spent."""
        refusal = self._tier0.check(trace.user, request.messages)
        if refusal is not None:
            self._recorder.guardrail(trace, "tier0", refusal.rule, "block", (0, 0))
            raise PolicyRefused(refusal.reason, param=refusal.rule)

    def _guarded(self, trace: CallTrace, completion: Completion) -> Completion:
        """The inline guardrails over a whole answer."""
        if not self._guard.enabled:
            return completion
        result = self._guard.scan(completion.text)
        self._record(trace, result)
        finish = "content_filter" if result.blocked is not None else completion.finish_reason
        return replace(completion, text=result.text, finish_reason=finish)

    async def _guarded_stream(
        self, trace: CallTrace, chunks: AsyncIterator[Chunk], said: list[str]
    ) -> AsyncIterator[Chunk]:
        """The inline guardrails chunk by chunk; `said` collects what the model really produced."""
        scanner = self._guard.scanner() if self._guard.enabled else None
        try:
            async for chunk in chunks:
                said.append(chunk.text)
                if scanner is None:
                    yield chunk
                    continue
                results = [scanner.feed(chunk.text)] if chunk.text else []
                if chunk.finish_reason is not None:
                    results.append(scanner.finish())
                for result in results:
                    self._record(trace, result)
                    if result.text:
                        yield Chunk(text=result.text)
                    if result.blocked is not None:
                        # A blocked answer ends here, as OpenAI ends a filtered one.
                        yield Chunk(finish_reason="content_filter")
                        return
                if chunk.finish_reason is not None:
                    yield Chunk(finish_reason=chunk.finish_reason, usage=chunk.usage)
        finally:
            await close_stream(chunks)

    def _record(self, trace: CallTrace, result: ScanResult) -> None:
        for hit in result.hits:
            self._recorder.guardrail(trace, "inline", hit.rule, hit.action, (hit.start, hit.end))

    async def _prompt_tokens(self, route: RouteSpec, request: CompletionRequest) -> int:
        if self._costs.limit_for(current_trace()) is None:
            return 0  # only a budget needs the count before the call
        first = route.targets[0]
        return await first.provider.count_tokens(request.messages, first.model)

    def _outage(self, route: RouteSpec, exc: ChainExhausted) -> AllProvidersFailed:
        attempts = current_trace().attempts or exc.attempts
        self.alerter.outage(route.name, attempts)
        return AllProvidersFailed(list(attempts), exc.retry_after)

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
    def _limited(route: RouteSpec, request: CompletionRequest) -> CompletionRequest:
        cap = route.limits.max_tokens
        if cap is not None and (request.max_tokens is None or request.max_tokens > cap):
            return replace(request, max_tokens=cap)
        return request


async def replay(completion: Completion) -> AsyncIterator[Chunk]:
    """A cached completion, streamed again: one chunk per word, then the finish."""
    for piece in WORD_CHUNKS.findall(completion.text):
        yield Chunk(text=piece)
    yield Chunk(finish_reason=completion.finish_reason, usage=completion.usage)
