"""Cost controls on the way to a model: the response cache first (a hit spends nothing), then
the user's budget (reserve the worst case, settle the real usage)."""

from __future__ import annotations

import logging

from sluicegate.audit.events import BudgetDecision, CacheHit
from sluicegate.budgets import BudgetLedger, Reservation
from sluicegate.cache import ResponseCache, cacheable, carries_pii
from sluicegate.config.schema import Config
from sluicegate.errors import BudgetExceeded, RequestOverBudget, StateError
from sluicegate.guardrails.pii import contains_pii
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.context import RequestContext
from sluicegate.routing.roles import RouteSpec
from sluicegate.token_estimate import estimate_text_tokens
from sluicegate.types import Completion, CompletionRequest, EmbeddingRequest, Embeddings, Usage

log = logging.getLogger("sluicegate.costs")
# Commits kept for a later try; beyond, the reservation's expiry is the bound (never an overspend).
MAX_UNSETTLED = 10_000


def usage_of(usage: Usage | None, prompt_tokens: int, said: str) -> Usage:
    """What a call used: as its provider reported, or (a stream cut short, none reported) the
    prompt plus an estimate of what was said."""
    return usage if usage is not None else Usage(prompt_tokens, estimate_text_tokens(said))


class CostControls:
    def __init__(
        self, config: Config, ledger: BudgetLedger, cache: ResponseCache | None, recorder: Recorder
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.cache = cache
        self.recorder = recorder
        # Commits the store refused (a full disk): retried before each later reservation, so the
        # real usage is counted once the store works again, not lost when the reservation expires.
        self._unsettled: list[tuple[str, Reservation, int]] = []

    def limit_for(self, trace: RequestContext) -> int | None:
        return trace.key_budget or self.config.budgets.tokens_per_hour_per_user

    def caches(self, request: CompletionRequest) -> bool:
        return self.cache is not None and cacheable(request)

    async def cached(
        self, trace: RequestContext, route: RouteSpec, request: CompletionRequest
    ) -> Completion | None:
        if self.cache is None or not cacheable(request):
            return None
        hit = await self.cache.get(self.cache.key(route.name, request))
        self.recorder.metrics.cache_requests.labels("hit" if hit is not None else "miss").inc()
        if hit is not None:
            self.recorder.audit.emit(trace.trace_id, CacheHit(key=self.cache.key(route.name, request)[:16]))
        return hit

    async def remember(self, route: RouteSpec, request: CompletionRequest, completion: Completion) -> None:
        # A request that carries PII is never written to the cache (seed 000 ADR-002).
        if self.cache is None or not cacheable(request) or completion.finish_reason not in ("stop", "length"):
            return
        if carries_pii(request.messages):
            return
        await self.cache.put(self.cache.key(route.name, request), completion)

    async def embeddings_cached(
        self, trace: RequestContext, route: RouteSpec, request: EmbeddingRequest
    ) -> Embeddings | None:
        """Embeddings are deterministic: always looked up when the cache is on."""
        if self.cache is None:
            return None
        key = self.cache.embeddings_key(route.name, request)
        hit = await self.cache.get_embeddings(key)
        self.recorder.metrics.cache_requests.labels("hit" if hit is not None else "miss").inc()
        if hit is not None:
            self.recorder.audit.emit(trace.trace_id, CacheHit(key=key[:16]))
        return hit

    async def remember_embeddings(
        self, route: RouteSpec, request: EmbeddingRequest, embeddings: Embeddings
    ) -> None:
        # Inputs that carry PII are never written to the cache (seed 000 ADR-002).
        if self.cache is None or any(isinstance(i, str) and contains_pii(i) for i in request.inputs):
            return
        await self.cache.put_embeddings(self.cache.embeddings_key(route.name, request), embeddings)

    async def reserve(
        self, trace: RequestContext, route: RouteSpec, request: CompletionRequest, prompt_tokens: int
    ) -> tuple[Reservation | None, CompletionRequest]:
        """Reserve prompt + completion allowance; the allowance becomes the request's max_tokens,
        so the model cannot spend more than was reserved."""
        limit = self.limit_for(trace)
        if limit is None:
            return None, request
        if self._unsettled:
            await self.settle_earlier()
        explicit = request.max_tokens or route.limits.max_tokens
        allowance = explicit or self.config.budgets.default_completion_tokens
        worst = prompt_tokens + allowance
        # A request that names max_tokens needs all of it; one that does not gets what is left (at least 1).
        at_least = None if explicit else prompt_tokens + 1
        needed = worst if at_least is None else at_least
        if needed > limit:
            asked = f"max_tokens {allowance}" if explicit else "at least 1 completion token"
            raise RequestOverBudget(
                f"This request needs {needed} tokens (a {prompt_tokens}-token prompt and {asked}); the "
                f"budget allows {limit} per hour, so it can never be served. Shorten the prompt or lower "
                "max_tokens."
            )
        reservation = await self._hold(trace, worst, limit, at_least)
        return reservation, request.but(max_tokens=reservation.tokens - prompt_tokens)

    async def reserve_prompt(self, trace: RequestContext, prompt_tokens: int) -> Reservation | None:
        """Reserve a request that has a prompt and no completion (embeddings)."""
        limit = self.limit_for(trace)
        if limit is None:
            return None
        if self._unsettled:
            await self.settle_earlier()
        if prompt_tokens > limit:
            raise RequestOverBudget(
                f"This request needs {prompt_tokens} tokens; the budget allows {limit} per hour, so it "
                "can never be served. Send fewer or shorter inputs."
            )
        return await self._hold(trace, prompt_tokens, limit, None)

    async def _hold(self, trace: RequestContext, worst: int, limit: int, at_least: int | None) -> Reservation:
        try:
            reservation = await self.ledger.reserve(
                trace.user, worst, limit, self.config.budgets.reservation_ttl_s, at_least=at_least
            )
        except BudgetExceeded:
            self.recorder.metrics.budget_rejections.labels(trace.user).inc()
            self.recorder.audit.emit(
                trace.trace_id, BudgetDecision(user=trace.user, decision="rejected", tokens=worst)
            )
            raise
        self.recorder.audit.emit(
            trace.trace_id, BudgetDecision(user=trace.user, decision="reserved", tokens=reservation.tokens)
        )
        return reservation

    async def settle(
        self,
        trace: RequestContext,
        reservation: Reservation | None,
        usage: Usage | None,
        *,
        prompt_tokens: int,
        said: str = "",
    ) -> None:
        """Commit the real usage; with none reported (a stream cut short), the prompt plus what was said."""
        if reservation is None:
            return
        used = usage_of(usage, prompt_tokens, said).total_tokens
        if usage is None:
            used = min(reservation.tokens, used)  # an estimate never counts more than was reserved
        try:
            await self._commit(trace.trace_id, reservation, used)
        except StateError as exc:
            # The answer is already the caller's: keep it. The reservation, the worst case, stays
            # held until it expires (budgets.reservation_ttl_s), so the budget is never overspent;
            # the commit is tried again before the next reservation.
            held = reservation.tokens
            log.error("budget commit failed for %s (%d tokens held; retried): %s", trace.user, held, exc)
            if len(self._unsettled) < MAX_UNSETTLED:
                self._unsettled.append((trace.trace_id, reservation, used))

    async def settle_earlier(self) -> None:
        """Commit what the store refused before, oldest first, while it accepts."""
        while self._unsettled:
            trace_id, reservation, used = self._unsettled[0]
            try:
                await self._commit(trace_id, reservation, used)
            except StateError:
                return
            self._unsettled.pop(0)

    async def _commit(self, trace_id: str, reservation: Reservation, used: int) -> None:
        await self.ledger.commit(reservation, used)
        self.recorder.audit.emit(
            trace_id, BudgetDecision(user=reservation.user, decision="committed", tokens=used)
        )
