"""A failover chain: the role's targets tried in order, as one provider.

Before the first token, a failing target simply hands the request to the next one. After
tokens were sent (seed 002: "retry from last successful element"), the next target is
asked to continue the assistant text already delivered, so the caller sees one stream
with one finish reason. The caller's own mistakes (the upstream's 4xx) are not failed
over: another provider would refuse the same request.

A target that lacks what the request needs (its declared `Capabilities`: JSON mode today) is
skipped, and the skip is recorded as an attempt that names the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from sluicegate.calltrace import Failover, current_trace
from sluicegate.errors import Attempt, ChainExhausted, ProviderBadRequest, ProviderError, UpstreamRejected
from sluicegate.providers.base import Capabilities
from sluicegate.routing.roles import Target
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    Message,
    Usage,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lack:
    """What a request needs that a target does not declare: the request field, and why in words."""

    param: str
    reason: str

    def __str__(self) -> str:
        return self.reason


EMBEDDINGS_LACK = Lack("model", "embeddings are not served")


def lacks(target: Target, *, request: CompletionRequest) -> Lack | None:
    """What the request needs that the target does not declare; None if it can serve it."""
    capabilities = target.provider.capabilities
    if request.response_schema is not None and not capabilities.json_schema:
        return Lack("response_format", "JSON schema output (response_format json_schema) is not supported")
    if request.json_mode and not capabilities.json_mode:
        return Lack("response_format", "JSON mode (response_format) is not supported")
    if not capabilities.tools and (
        request.tools or any(m.tool_calls or m.tool_call_id is not None for m in request.messages)
    ):
        return Lack("tools" if request.tools else "messages", "tool calling is not supported")
    if not capabilities.vision and any(m.images for m in request.messages):
        return Lack("messages", "image input is not supported")
    if request.logprobs and "logprobs" not in capabilities.parameters:
        return Lack("logprobs", "'logprobs' is not supported")
    for param in ("presence_penalty", "frequency_penalty", "logit_bias", "seed"):
        if getattr(request, param) is not None and param not in capabilities.parameters:
            return Lack(param, f"'{param}' is not supported")
    return None


class FailoverChain:
    def __init__(self, name: str, targets: Sequence[Target]) -> None:
        if not targets:
            raise ValueError("a failover chain needs at least one target")
        self._name = name
        self._targets = tuple(targets)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        """What the chain can serve: a feature any target has (the others are skipped for it);
        streaming and prefill only if every target has them; exact counts as the first target counts."""
        every = [t.provider.capabilities for t in self._targets]
        return Capabilities(
            streaming=all(c.streaming for c in every),
            tools=any(c.tools for c in every),
            json_mode=any(c.json_mode for c in every),
            json_schema=any(c.json_schema for c in every),
            exact_token_count=every[0].exact_token_count,
            assistant_prefill=all(c.assistant_prefill for c in every),
            vision=any(c.vision for c in every),
            embeddings=any(c.embeddings for c in every),
            parameters=frozenset().union(*(c.parameters for c in every)),
        )

    @property
    def targets(self) -> tuple[Target, ...]:
        return self._targets

    async def generate(self, request: CompletionRequest) -> Completion:
        return await self._first_served(
            partial(lacks, request=request),
            lambda target: target.provider.generate(request.with_model(target.model)),
        )

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        return await self._first_served(
            lambda target: None if target.provider.capabilities.embeddings else EMBEDDINGS_LACK,
            lambda target: target.provider.embed(request.with_model(target.model)),
        )

    async def _first_served(
        self, lack_of: Callable[[Target], Lack | None], call: Callable[[Target], Awaitable[T]]
    ) -> T:
        """The first answer of a target that can serve the request and does; each skip and each
        failure recorded as an attempt."""
        trace = current_trace()
        attempts: list[Attempt] = []
        errors: list[ProviderError] = []
        for target in self._targets:
            lack = lack_of(target)
            if lack is not None:
                self._note_skip(trace.attempts, attempts, target, lack)
                continue
            try:
                answer = await call(target)
            except ProviderError as exc:
                self._record(trace.attempts, attempts, errors, target, exc)
                continue
            trace.served_by = target.label
            return answer
        raise ChainExhausted(attempts, errors)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        trace = current_trace()
        attempts: list[Attempt] = []
        errors: list[ProviderError] = []
        said: list[str] = []
        calling = False  # a tool call has begun reaching the caller
        usage = Usage()
        previous: tuple[Target, ProviderError] | None = None
        for target in self._targets:
            if self._skipped(trace.attempts, attempts, target, request):
                continue
            attempt = request.with_model(target.model)
            if said and previous is not None:
                delivered = "".join(said)
                attempt = replace(attempt, assistant_prefix=request.assistant_prefix + delivered)
                trace.failovers.append(
                    Failover(previous[0].label, target.label, previous[1].kind, len(delivered))
                )
            trim_seam = bool(said) and said[-1][-1:].isspace()
            try:
                async for chunk in target.provider.stream(attempt):
                    if trim_seam and chunk.text:
                        # Providers that refuse a trailing space in a prefill restart with one.
                        chunk = replace(chunk, text=chunk.text.lstrip())
                        trim_seam = not chunk.text
                    if chunk.finish_reason is not None:
                        trace.served_by = target.label
                        yield replace(chunk, usage=usage + (chunk.usage or Usage()))
                        return
                    if chunk.text:
                        said.append(chunk.text)
                    calling = calling or bool(chunk.tool_calls)
                    if chunk.text or chunk.tool_calls:
                        yield chunk
            except ProviderError as exc:
                self._record(trace.attempts, attempts, errors, target, exc)
                if calling:
                    # Another provider cannot finish a call it did not begin: a half call is never
                    # delivered as a whole one. The caller gets a clear error and may retry.
                    raise ChainExhausted(
                        attempts, errors, detail="the stream was cut in the middle of a tool call"
                    ) from None
                previous = (target, exc)
                continue
        raise ChainExhausted(attempts, errors)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        first = self._targets[0]
        return await first.provider.count_tokens(messages, first.model)

    async def aclose(self) -> None:
        return None

    @staticmethod
    def _skipped(
        trace_attempts: list[Attempt], attempts: list[Attempt], target: Target, request: CompletionRequest
    ) -> bool:
        lack = lacks(target, request=request)
        if lack is None:
            return False
        FailoverChain._note_skip(trace_attempts, attempts, target, lack)
        return True

    @staticmethod
    def _note_skip(
        trace_attempts: list[Attempt], attempts: list[Attempt], target: Target, lack: Lack
    ) -> None:
        attempt = Attempt(target.provider.name, target.model, f"skipped: {lack.reason}")
        trace_attempts.append(attempt)
        attempts.append(attempt)

    @staticmethod
    def _record(
        trace_attempts: list[Attempt],
        attempts: list[Attempt],
        errors: list[ProviderError],
        target: Target,
        exc: ProviderError,
    ) -> None:
        attempt = Attempt(target.provider.name, target.model, exc.kind, exc.status)
        trace_attempts.append(attempt)
        attempts.append(attempt)
        errors.append(exc)
        if isinstance(exc, ProviderBadRequest):
            raise UpstreamRejected(exc.message) from None
