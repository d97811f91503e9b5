"""The only way sluicegate's own components (router, validator, summarizer, reask) call a model:
through a role and the one pipeline, paid from a `BudgetToken` that the caller must hold."""

from __future__ import annotations

from collections.abc import Sequence

from sluicegate.budgets import BudgetToken
from sluicegate.calltrace import CallTrace
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.orchestrator import Orchestrator
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.types import Completion, CompletionRequest, Message


class InternalLLM:
    def __init__(self, pipeline: Orchestrator) -> None:
        self._pipeline = pipeline

    async def complete(
        self,
        role: str,
        messages: Sequence[Message],
        *,
        budget: BudgetToken,
        max_tokens: int,
        temperature: float | None = 0.0,
        trace_id: str | None = None,
    ) -> Completion:
        """One internal call. Raises `BudgetExhausted` before spending anything if the token cannot
        pay for the worst case (prompt + max_tokens)."""
        route = self._pipeline.stacks.resolve(role)
        prompt_tokens = await self._pipeline.stacks.prompt_tokens(
            route, CompletionRequest(role, tuple(messages))
        )
        budget.ensure(prompt_tokens + max_tokens)
        request = PipelineRequest(
            CompletionRequest(
                model=role, messages=tuple(messages), max_tokens=max_tokens, temperature=temperature
            ),
            endpoint=f"internal:{budget.workflow}",
            caller=Caller(local=True),
            stream=False,
        )
        context = RequestContext(call=CallTrace() if trace_id is None else CallTrace(trace_id=trace_id))
        token = bind(context)
        try:
            completion, _ = await self._pipeline.collect(request, context)
        finally:
            unbind(token)
        if context.cache != "hit":  # a cache hit spent nothing
            budget.debit(completion.usage.total_tokens)
        return completion
