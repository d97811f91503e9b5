"""Request coalescing (singleflight, seed 000 ADR-002): identical in-flight deterministic
requests share one upstream call.

The upstream call runs in a task of its own, so the first caller going away does not cancel
the others; it is cancelled only when no subscriber is left. Every streaming subscriber
receives the whole stream from its first chunk, however late it joined.

The shared call keeps its own trace (its attempts, failovers and who served it); each subscriber
copies those into its own trace when the call ends, so every response carries its own trace id
with the same `served_by`, and each trace's audit events are its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import orjson

from sluicegate.calltrace import CallTrace, current_trace, start_trace
from sluicegate.providers.base import Provider
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.types import Chunk, Completion, CompletionRequest, EmbeddingRequest


def request_key(scope: str, request: CompletionRequest | EmbeddingRequest, *, streaming: bool) -> str:
    """sha256 of the canonical request: the route, every field that changes the output."""
    canonical: dict[str, Any] = {"scope": scope, "streaming": streaming, **asdict(request)}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def coalescible(request: CompletionRequest) -> bool:
    return request.deterministic or bool(request.extra.get("cache"))


def _shared_context() -> tuple[contextvars.Context, CallTrace]:
    """A context for the shared call, with a trace of its own (the caller's deadline)."""
    caller = current_trace()
    shared = CallTrace(trace_id=caller.trace_id, deadline=caller.deadline)
    context = contextvars.copy_context()
    context.run(start_trace, shared)
    return context, shared


def _adopt(shared: CallTrace) -> None:
    """What the shared call did, told to this subscriber's own trace."""
    mine = current_trace()
    if mine is shared:
        return
    mine.attempts.extend(shared.attempts)
    mine.failovers.extend(shared.failovers)
    mine.served_by = shared.served_by


class _Flight:
    def __init__(self) -> None:
        self.trace = CallTrace()
        self.chunks: list[Chunk] = []
        self.done = False
        self.error: BaseException | None = None
        self.changed = asyncio.Event()
        self.subscribers = 0
        self.task: asyncio.Task[None] | None = None

    def publish(
        self, chunk: Chunk | None = None, *, error: BaseException | None = None, done: bool = False
    ) -> None:
        if chunk is not None:
            self.chunks.append(chunk)
        if error is not None:
            self.error = error
        self.done = self.done or done or error is not None
        self.changed.set()
        self.changed = asyncio.Event()


class CoalescingProvider(WrapperProvider):
    def __init__(self, inner: Provider, scope: str) -> None:
        super().__init__(inner)
        self.scope = scope
        self._streams: dict[str, _Flight] = {}
        # Each shared non-streamed call, with the trace it runs under.
        self._calls: dict[str, tuple[asyncio.Future[Completion], CallTrace]] = {}
        self.upstream_calls = 0

    @staticmethod
    async def _wait(call: asyncio.Future[Completion], shared: CallTrace) -> Completion:
        try:
            return await asyncio.shield(call)
        finally:
            if call.done():
                _adopt(shared)

    async def generate(self, request: CompletionRequest) -> Completion:
        if not coalescible(request):
            return await self.inner.generate(request)
        key = request_key(self.scope, request, streaming=False)
        pending = self._calls.get(key)
        if pending is not None:
            current_trace().coalesced = True
            return await self._wait(*pending)
        self.upstream_calls += 1
        context, shared = _shared_context()
        task = asyncio.get_running_loop().create_task(self.inner.generate(request), context=context)
        self._calls[key] = (task, shared)
        task.add_done_callback(lambda _: self._calls.pop(key, None))
        # Shielded: a caller that goes away stops waiting, the shared call goes on for the others.
        return await self._wait(task, shared)

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        if not coalescible(request):
            # The inner stream itself, not a generator passing each chunk through: one hop less
            # a chunk, and whoever closes the stream closes the inner one at once.
            return self.inner.stream(request)
        return self._shared_stream(request)

    async def _shared_stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        key = request_key(self.scope, request, streaming=True)
        flight = self._streams.get(key)
        if flight is None:
            flight = self._streams[key] = _Flight()
            self.upstream_calls += 1
            context, flight.trace = _shared_context()
            flight.task = asyncio.get_running_loop().create_task(
                self._pump(key, flight, request), context=context
            )
        else:
            current_trace().coalesced = True
        flight.subscribers += 1
        try:
            index = 0
            while True:
                while index < len(flight.chunks):
                    chunk = flight.chunks[index]
                    if chunk.finish_reason is not None:
                        _adopt(flight.trace)
                    yield chunk
                    index += 1
                if flight.error is not None:
                    _adopt(flight.trace)
                    raise flight.error
                if flight.done:
                    return
                await flight.changed.wait()
        finally:
            flight.subscribers -= 1
            if flight.subscribers == 0 and not flight.done and flight.task is not None:
                # The deadline the last subscriber left by tells a hang from a caller gone away.
                flight.trace.deadline = current_trace().deadline
                flight.task.cancel()
                self._streams.pop(key, None)

    async def _pump(self, key: str, flight: _Flight, request: CompletionRequest) -> None:
        try:
            async for chunk in self.inner.stream(request):
                flight.publish(chunk)
            flight.publish(done=True)
        except asyncio.CancelledError:
            flight.publish(done=True)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to every subscriber, who re-raises it
            flight.publish(error=exc)
        finally:
            if self._streams.get(key) is flight:
                del self._streams[key]
