"""The only way sluicegate's own components (router, validator, summarizer, reask) call a model:
through a role, paid from a `BudgetToken` that the caller must hold."""

from __future__ import annotations

from collections.abc import Sequence

from sluicegate.budgets import BudgetToken
from sluicegate.calltrace import CallTrace, end_trace, start_trace
from sluicegate.service import ChatService
from sluicegate.types import Completion, CompletionRequest, Message


class InternalLLM:
    def __init__(self, chat: ChatService) -> None:
        self._chat = chat

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
        route = self._chat.resolve(role)
        first = route.targets[0]
        prompt_tokens = await first.provider.count_tokens(messages, first.model)
        budget.ensure(prompt_tokens + max_tokens)
        request = CompletionRequest(
            model=role, messages=tuple(messages), max_tokens=max_tokens, temperature=temperature
        )
        trace = CallTrace() if trace_id is None else CallTrace(trace_id=trace_id)
        token = start_trace(trace)
        try:
            completion = await self._chat.complete(route, request, endpoint=f"internal:{budget.workflow}")
        finally:
            end_trace(token)
        if trace.cache != "hit":  # a cache hit spent nothing
            budget.debit(completion.usage.total_tokens)
        return completion
