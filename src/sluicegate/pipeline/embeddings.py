"""Embeddings through the same stages as a chat request, as the same state machine:

    AUTHORIZE → MODEL_SELECTION → CACHE_LOOKUP → BUDGET_RESERVE → LLM_CALL → BUDGET_SETTLE →
    CACHE_STORE → COMPLETED (or FAILED from any of them)

The key and its roles, the role's provider stack (breakers, retries, limits, failover to targets
that serve embeddings), the cache (embeddings are deterministic: always cacheable, unless an input
carries PII), the user's budget (the prompt is the whole cost) and the audit trail. No guardrail
acts: nothing the model writes reaches a reader as text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from sluicegate.budgets import Reservation
from sluicegate.costs import CostControls
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.auth import Gatekeeper
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.outcomes import outcome_of
from sluicegate.pipeline.request import Caller
from sluicegate.pipeline.states import State, StateMachine
from sluicegate.routing.roles import RouteSpec
from sluicegate.token_estimate import estimate_text_tokens
from sluicegate.types import EmbeddingRequest, Embeddings, Message, Usage


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    """What the embeddings door hands over: `embedding.model` names the route asked for."""

    embedding: EmbeddingRequest
    endpoint: str
    caller: Caller


class EmbeddingPipeline:
    def __init__(
        self, stacks: RoleStacks, *, costs: CostControls, recorder: Recorder, gatekeeper: Gatekeeper
    ) -> None:
        self._stacks = stacks
        self._costs = costs
        self._recorder = recorder
        self._gatekeeper = gatekeeper

    async def run(self, call: EmbeddingCall, ctx: RequestContext) -> Embeddings:
        machine = StateMachine(partial(self._recorder.transition, ctx), ctx.started)
        request = call.embedding
        received = False
        usage: Usage | None = None
        try:
            machine.move(State.AUTHORIZE, "local caller" if call.caller.local else "bearer key")
            key = None if call.caller.local else await self._gatekeeper.authenticate(call.caller.secret)
            self._gatekeeper.authorize(key, request.model)
            if key is not None:
                ctx.key, ctx.user = key, key.user
            texts = [Message("user", item) for item in request.inputs if isinstance(item, str)]
            self._recorder.received(ctx, call.endpoint, request.model, False, texts)
            received = True

            machine.move(State.MODEL_SELECTION, f"explicit/{request.model}")
            route = self._stacks.resolve(request.model)
            self._stacks.check_embeddings(route)
            ctx.route, ctx.route_label = route, f"explicit/{route.name}"
            asked = EmbeddingRequest(route.name, request.inputs, request.dimensions, request.user)

            if self._costs.cache is not None:
                machine.move(State.CACHE_LOOKUP)
                hit = await self._costs.embeddings_cached(ctx, route, asked)
                ctx.cache = "hit" if hit is not None else "miss"
                if hit is not None:
                    machine.move(State.COMPLETED, "cache hit")
                    self._record(ctx, "ok", None)
                    return hit
            embeddings = await self._embed(machine, ctx, route, asked)
            usage = embeddings.usage
            self._record(ctx, "ok", usage)
            return embeddings
        except BaseException as exc:
            if not machine.ended:
                machine.move(State.FAILED, outcome_of(exc))
            if received:
                self._record(ctx, outcome_of(exc), usage)
            raise

    async def _embed(
        self, machine: StateMachine, ctx: RequestContext, route: RouteSpec, request: EmbeddingRequest
    ) -> Embeddings:
        prompt_tokens = sum(
            estimate_text_tokens(item) if isinstance(item, str) else len(item) for item in request.inputs
        )
        reservation = None
        if self._costs.limit_for(ctx) is not None:
            machine.move(State.BUDGET_RESERVE)
            reservation = await self._costs.reserve_prompt(ctx, prompt_tokens)
        machine.move(State.LLM_CALL, route.name)
        try:
            embeddings = await self._stacks.embed(route, request, ctx.call)
        except BaseException:
            await self._settle(machine, ctx, reservation, None, prompt_tokens)
            raise
        await self._settle(machine, ctx, reservation, embeddings.usage, prompt_tokens)
        if ctx.cache == "miss":
            machine.move(State.CACHE_STORE)
            await self._costs.remember_embeddings(route, request, embeddings)
        machine.move(State.COMPLETED)
        return embeddings

    async def _settle(
        self,
        machine: StateMachine,
        ctx: RequestContext,
        reservation: Reservation | None,
        usage: Usage | None,
        prompt_tokens: int,
    ) -> None:
        """Whatever happened (the caller may have left): shielded from cancellation."""
        if reservation is None:
            return
        machine.move(State.BUDGET_SETTLE)
        settle = self._costs.settle(ctx, reservation, usage, prompt_tokens=prompt_tokens)
        await asyncio.shield(asyncio.ensure_future(settle))

    def _record(self, ctx: RequestContext, outcome: str, usage: Usage | None) -> None:
        self._recorder.completed(ctx, role=ctx.role or "-", outcome=outcome, usage=usage)
