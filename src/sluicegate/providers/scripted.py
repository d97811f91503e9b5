"""The `scripted` provider: deterministic replies from a script, in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from sluicegate.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    TruncatedStream,
)
from sluicegate.providers.base import Capabilities, collect, no_embeddings
from sluicegate.providers.script import Fault, Reply, Script, ScriptPlayer, continuation, shaped
from sluicegate.providers.tokens import estimate_message_tokens, estimate_text_tokens
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    Message,
    Usage,
)

# A script is deterministic: whatever seed is asked for, it is honoured.
CAPABILITIES = Capabilities(
    streaming=True, json_mode=True, assistant_prefill=True, parameters=frozenset({"seed"})
)


class ScriptedProvider:
    def __init__(self, name: str, script: Script) -> None:
        self._name = name
        self.player = ScriptPlayer(script)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    async def generate(self, request: CompletionRequest) -> Completion:
        return await collect(self._name, request.model, self.stream(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        if not self.player.knows(request.model):
            raise ProviderBadRequest(f"model '{request.model}' is not in the script", provider=self._name)
        reply = self.player.next_reply(request.model, request.messages)
        text = continuation(reply.reply_text(request.messages), request.assistant_prefix)
        chunks, finish = shaped(reply, text, request.stop, request.max_tokens)
        await asyncio.sleep(reply.first_delay_s)
        for index, piece in enumerate(chunks):
            if reply.fault is not None and index == reply.fault_after_chunks:
                await self._fail(reply)
            if index and reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            yield Chunk(text=piece)
        if reply.fault is not None:
            await self._fail(reply)
        said = "".join(chunks)
        usage = Usage(estimate_message_tokens(request.messages), estimate_text_tokens(said))
        yield Chunk(finish_reason=finish, usage=usage)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        raise no_embeddings(self._name)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        return estimate_message_tokens(messages)

    async def aclose(self) -> None:
        return None

    async def _fail(self, reply: Reply) -> None:
        if reply.fault is Fault.hang:
            await asyncio.Event().wait()
        raise _fault_error(reply, self._name)


_FAULT_ERRORS: dict[Fault, type[ProviderError]] = {
    Fault.unavailable: ProviderUnavailable,
    Fault.truncate: TruncatedStream,
    Fault.malformed: MalformedResponse,
    Fault.bad_request: ProviderBadRequest,
    Fault.auth: ProviderAuthError,
}


def _fault_error(reply: Reply, provider: str) -> ProviderError:
    message = f"scripted fault: {reply.fault.value if reply.fault else 'none'}"
    if reply.fault is Fault.rate_limited:
        return ProviderRateLimited(message, provider=provider, retry_after=reply.retry_after_s)
    error_type = _FAULT_ERRORS.get(reply.fault, ProviderServerError) if reply.fault else ProviderServerError
    return error_type(message, provider=provider)
