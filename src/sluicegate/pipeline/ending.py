"""The end of every request, once (BUDGET_SETTLE, CACHE_STORE, MEMORY_UPDATE, then COMPLETED or
FAILED): settle the budget, store the answer, save the turn, record the outcome. It runs in a task
of its own when it has anything to wait for: a caller that goes away must not stop the usage
being committed nor the outcome being recorded.

An answer's ending comes in two parts. What a next request may read (the budget settled, the
answer cached, the turn saved) is done before the complete frame (`conclude`); COMPLETED and the
request's record, which only the trail and the metrics read, come after it (`record_answered`),
when the frames run on to their end. The chat door sends a whole answer first and then lets them
end: at one request at a time, that record (about 30 µs) is made while the client reads its
answer instead of before it. A failure is recorded at once."""

from __future__ import annotations

import asyncio

from sluicegate.costs import CostControls, usage_of
from sluicegate.memory.sessions import SessionStore
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.job import Job
from sluicegate.pipeline.outcomes import outcome_of
from sluicegate.pipeline.states import State
from sluicegate.types import Completion, Usage


class RequestEnding:
    def __init__(self, costs: CostControls, sessions: SessionStore, recorder: Recorder) -> None:
        self._costs = costs
        self._sessions = sessions
        self._recorder = recorder
        self._finishing: set[asyncio.Future[None]] = set()

    async def conclude(self, job: Job, outcome: str) -> None:
        """`outcome`: "ok", or what ended the request (an error's code, client_disconnected)."""
        job.concluded = True
        waits = job.reservation is not None or (
            outcome == "ok" and (self._caches(job) or job.request.session_id is not None)
        )
        if not waits:
            # Nothing to await on the way (no budget, no store, no session): nothing to protect from
            # a cancellation either, and no task to pay for on every request.
            await self._finish(job, outcome)
            return
        finish = asyncio.ensure_future(self._finish(job, outcome))
        self._finishing.add(finish)
        finish.add_done_callback(self._finishing.discard)
        await asyncio.shield(finish)

    def record_answered(self, job: Job) -> None:
        """COMPLETED and the record of an answer `conclude` found "ok", once it has been sent."""
        if job.answered and not job.machine.ended:
            job.machine.move(State.COMPLETED)
            self._record(job, "ok")

    async def _finish(self, job: Job, outcome: str) -> None:
        """`outcome`: "ok", or what ended the request (an error's code, client_disconnected)."""
        try:
            if job.reservation is not None:
                job.machine.move(State.BUDGET_SETTLE)
                await self._costs.settle(
                    job.ctx,
                    job.reservation,
                    job.usage,
                    prompt_tokens=job.prompt_tokens,
                    said="".join(job.said),
                )
            if outcome == "ok":
                await self._store(job)
        except BaseException as exc:
            result = outcome_of(exc)
            if not job.machine.ended:
                job.machine.move(State.FAILED, result)
            self._record(job, result)
            raise
        if outcome == "ok":
            job.answered = True  # recorded by `record_answered`, after the answer
            return
        job.machine.move(State.FAILED, outcome)
        self._record(job, outcome)

    @staticmethod
    def _caches(job: Job) -> bool:
        return (
            job.cache_key_request is not None and job.ctx.cache == "miss" and job.finish != "content_filter"
        )

    async def _store(self, job: Job) -> None:
        route, asked = job.ctx.route, job.cache_key_request
        if route is not None and asked is not None and self._caches(job):
            job.machine.move(State.CACHE_STORE)
            answer = Completion("".join(job.shown), job.finish, job.usage or Usage(), job.call.model, "")
            await self._costs.remember(route, asked, answer)
        if job.request.session_id is not None:
            job.machine.move(State.MEMORY_UPDATE)
            entities = job.pack.entities(job.final) if job.pack is not None else []
            question = job.request.completion.messages[-1].content
            await self._sessions.append(job.request.session_id, question, job.final, entities)

    def _record(self, job: Job, outcome: str) -> None:
        if not job.received:
            return  # refused before it was admitted (no key, or a role the key may not use)
        # A cache hit spent nothing; a stream cut short reported no usage: what was asked and said.
        spent = None if job.ctx.cache == "hit" else usage_of(job.usage, job.prompt_tokens, "".join(job.said))
        self._recorder.completed(
            job.ctx,
            role=job.ctx.role or "-",
            outcome=outcome,
            usage=spent,
            text="".join(job.said),
            tool_calls=[(name, arguments) for name, arguments in job.called.values()],
        )
