"""Wire-level edge cases that a script cannot express, against a loopback server that answers
with fixed bytes, plus real sockets for refusals and hangs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sluicegate.errors import (
    MalformedResponse,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    TruncatedStream,
)
from sluicegate.providers.anthropic import AnthropicProvider
from sluicegate.providers.base import close_stream
from sluicegate.providers.http import DRAIN_GRACE_S, parse_retry_after
from sluicegate.providers.openai_compat import OpenAICompatibleProvider
from sluicegate.testing.canned import CannedUpstream
from sluicegate.testing.http11 import HttpResponder, read_request
from sluicegate.testing.threads import free_port
from sluicegate.types import CompletionRequest, Message

REQUEST = CompletionRequest(
    model="m", messages=(Message("system", "S"), Message("user", "hi"), Message("user", "again"))
)


def sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


Canned = Callable[..., Awaitable[CannedUpstream]]


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    started: list[CannedUpstream] = []

    async def start(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> CannedUpstream:
        upstream = await CannedUpstream(status, body, headers).start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.close()


async def openai_with(
    canned: Canned, body: bytes, status: int = 200, **headers: str
) -> OpenAICompatibleProvider:
    upstream = await canned(body, status, headers)
    return OpenAICompatibleProvider("o", base_url=upstream.url + "/v1", api_key="sk-test")


def delta(text: str, finish: str | None = None) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


async def drain(provider: Any, request: CompletionRequest = REQUEST) -> list[Any]:
    try:
        return [c async for c in provider.stream(request)]
    finally:
        await provider.aclose()


async def test_openai_stream_without_done_is_truncated(canned: Canned) -> None:
    provider = await openai_with(canned, sse(delta("Hel"), delta("lo", "stop")))
    with pytest.raises(TruncatedStream):
        await drain(provider)


async def test_openai_stream_done_without_finish_reason_is_truncated(canned: Canned) -> None:
    provider = await openai_with(canned, sse(delta("Hel"), "[DONE]"))
    with pytest.raises(TruncatedStream):
        await drain(provider)


async def test_openai_stream_without_usage_gets_an_estimate(canned: Canned) -> None:
    chunks = await drain(await openai_with(canned, sse(delta("Hello there"), delta("", "stop"), "[DONE]")))
    assert chunks[-1].usage.prompt_tokens > 0
    assert chunks[-1].usage.completion_tokens == 2


async def test_openai_in_band_error_is_classified(canned: Canned) -> None:
    provider = await openai_with(
        canned,
        sse(delta("Hi"), json.dumps({"error": {"message": "slow down", "type": "rate_limit"}})),
    )
    with pytest.raises(ProviderRateLimited):
        await drain(provider)


async def test_openai_malformed_body(canned: Canned) -> None:
    provider = await openai_with(canned, b'{"choices": "nope"}')
    with pytest.raises(MalformedResponse):
        await provider.generate(REQUEST)
    await provider.aclose()


async def test_openai_retry_after_ms_and_key_header(canned: Canned) -> None:
    upstream = await canned(b'{"error": {"message": "busy"}}', 429, {"retry-after-ms": "1500"})
    provider = OpenAICompatibleProvider("o", base_url=upstream.url + "/v1", api_key="sk-test")
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.generate(REQUEST)
    await provider.aclose()
    assert caught.value.retry_after == 1.5
    assert upstream.requests[0].headers["authorization"] == "Bearer sk-test"
    assert "sk-test" not in str(caught.value)


async def test_redirects_are_not_followed(canned: Canned) -> None:
    elsewhere = await canned(b'{"stolen": true}')
    upstream = await canned(b"", 307, {"location": elsewhere.url + "/steal"})
    provider = OpenAICompatibleProvider("o", base_url=upstream.url + "/v1", api_key="sk-test")
    with pytest.raises(ProviderServerError):
        await provider.generate(REQUEST)
    await provider.aclose()
    assert [r.path for r in upstream.requests] == ["/v1/chat/completions"]
    assert elsewhere.requests == []


async def test_a_large_event_split_across_reads_is_decoded_whole(canned: Canned) -> None:
    text = "é" * 50_000  # 100 kB of two-byte characters in one SSE line
    chunks = await drain(await openai_with(canned, sse(delta(text, "stop"), "[DONE]")))
    assert "".join(c.text for c in chunks) == text


async def test_a_finished_stream_leaves_its_connection_for_the_next_call(canned: Canned) -> None:
    upstream = await canned(sse(delta("Hi", "stop"), "[DONE]"))
    provider = OpenAICompatibleProvider("o", base_url=upstream.url + "/v1")
    for _ in range(3):
        chunks = provider.stream(REQUEST)
        async for chunk in chunks:
            if chunk.finish_reason is not None:
                break  # as the server does: it stops reading once the stream has finished
        await close_stream(chunks)
    await provider.aclose()
    assert len(upstream.requests) == 3
    assert upstream.connections == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


async def anthropic_with(canned: Canned, body: bytes) -> tuple[AnthropicProvider, CannedUpstream]:
    upstream = await canned(body)
    return AnthropicProvider("a", base_url=upstream.url, api_key="k"), upstream


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def test_anthropic_stream_without_message_stop_is_truncated(canned: Canned) -> None:
    body = event(
        "message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}
    ) + event(
        "content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    )
    provider, upstream = await anthropic_with(canned, body.encode())
    with pytest.raises(TruncatedStream):
        await drain(provider)
    seen = [json.loads(r.body) for r in upstream.requests]
    # System text goes to `system`, and consecutive user turns are merged.
    assert seen[0]["system"] == "S"
    assert seen[0]["messages"] == [{"role": "user", "content": "hi\n\nagain"}]
    assert seen[0]["max_tokens"] == 4096


async def test_anthropic_overloaded_event_is_a_server_error(canned: Canned) -> None:
    body = event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    provider, _ = await anthropic_with(canned, body.encode())
    with pytest.raises(ProviderServerError):
        await drain(provider)


async def test_connection_refused_is_unavailable() -> None:
    provider = OpenAICompatibleProvider("o", base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderUnavailable):
        await provider.generate(REQUEST)
    with pytest.raises(ProviderUnavailable):
        await drain(provider)


async def test_hanging_upstream_times_out(upstream_factory: Callable[..., Any]) -> None:
    upstream = await upstream_factory({"m": [{"fault": "hang"}]})
    provider = OpenAICompatibleProvider("o", base_url=upstream.url + "/v1", timeout_s=0.3)
    with pytest.raises(ProviderTimeout):
        await provider.generate(REQUEST)
    await provider.aclose()


async def test_an_upstream_that_lingers_after_done_costs_at_most_the_grace() -> None:
    """[DONE] sent, the body never ended: the answer still finishes, one grace period later."""

    hung_up = asyncio.Event()

    async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        out = HttpResponder(writer)
        out.start_chunked()
        await out.chunk(sse(delta("Hi", "stop"), "[DONE]"))
        await reader.read()  # the body never ends; the client hangs up once the grace is over
        writer.close()
        await writer.wait_closed()
        hung_up.set()

    server = await asyncio.start_server(linger, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = OpenAICompatibleProvider("o", base_url=f"http://127.0.0.1:{port}/v1")
    started = time.monotonic()
    chunks = await drain(provider)
    assert [c.text for c in chunks] == ["Hi", ""]
    assert chunks[-1].finish_reason == "stop"
    assert DRAIN_GRACE_S <= time.monotonic() - started < DRAIN_GRACE_S + 2
    await asyncio.wait_for(hung_up.wait(), 5)  # the client let the connection go
    server.close()
    await server.wait_closed()


async def test_an_answer_that_is_not_http_is_unavailable_and_says_so() -> None:
    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(not_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = OpenAICompatibleProvider("o", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderUnavailable, match=r"connection failed \(HttpProtocolError: malformed HTTP"):
        await provider.generate(REQUEST)
    with pytest.raises(ProviderUnavailable, match="malformed HTTP"):
        await drain(provider)
    server.close()
