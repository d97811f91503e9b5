"""Wire-level edge cases that a script cannot express, through httpx's mock transport
(the adapters take a transport, as httpx's own tests do), plus real sockets for refusals
and hangs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
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
from sluicegate.providers.http import parse_retry_after
from sluicegate.providers.openai_compat import OpenAICompatibleProvider
from sluicegate.testing.threads import free_port
from sluicegate.types import CompletionRequest, Message

REQUEST = CompletionRequest(
    model="m", messages=(Message("system", "S"), Message("user", "hi"), Message("user", "again"))
)


def sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


def openai_with(
    body: bytes,
    status: int = 200,
    headers: dict[str, str] | None = None,
    seen: list[httpx.Request] | None = None,
) -> OpenAICompatibleProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content_type = "text/event-stream" if body.startswith(b"data:") else "application/json"
        return httpx.Response(status, content=body, headers={"content-type": content_type, **(headers or {})})

    return OpenAICompatibleProvider(
        "o", base_url="http://upstream.test/v1", api_key="sk-test", transport=httpx.MockTransport(handler)
    )


def delta(text: str, finish: str | None = None) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


async def drain(provider: Any, request: CompletionRequest = REQUEST) -> list[Any]:
    return [c async for c in provider.stream(request)]


async def test_openai_stream_without_done_is_truncated() -> None:
    provider = openai_with(sse(delta("Hel"), delta("lo", "stop")))
    with pytest.raises(TruncatedStream):
        await drain(provider)


async def test_openai_stream_done_without_finish_reason_is_truncated() -> None:
    provider = openai_with(sse(delta("Hel"), "[DONE]"))
    with pytest.raises(TruncatedStream):
        await drain(provider)


async def test_openai_stream_without_usage_gets_an_estimate() -> None:
    chunks = await drain(openai_with(sse(delta("Hello there"), delta("", "stop"), "[DONE]")))
    assert chunks[-1].usage.prompt_tokens > 0
    assert chunks[-1].usage.completion_tokens == 2


async def test_openai_in_band_error_is_classified() -> None:
    provider = openai_with(
        sse(delta("Hi"), json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}))
    )
    with pytest.raises(ProviderRateLimited):
        await drain(provider)


async def test_openai_malformed_body() -> None:
    with pytest.raises(MalformedResponse):
        await openai_with(b'{"choices": "nope"}').generate(REQUEST)


async def test_openai_retry_after_ms_and_key_header() -> None:
    seen: list[httpx.Request] = []
    provider = openai_with(b'{"error": {"message": "busy"}}', 429, {"retry-after-ms": "1500"}, seen)
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.generate(REQUEST)
    assert caught.value.retry_after == 1.5
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert "sk-test" not in str(caught.value)


async def test_redirects_are_not_followed() -> None:
    seen: list[httpx.Request] = []
    provider = openai_with(b"", 307, {"location": "http://elsewhere.test/steal"}, seen)
    with pytest.raises(ProviderServerError):
        await provider.generate(REQUEST)
    assert [r.url.host for r in seen] == ["upstream.test"]


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def anthropic_with(body: bytes, seen: list[dict[str, Any]]) -> AnthropicProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return AnthropicProvider(
        "a", base_url="http://anthropic.test", api_key="k", transport=httpx.MockTransport(handler)
    )


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def test_anthropic_stream_without_message_stop_is_truncated() -> None:
    seen: list[dict[str, Any]] = []
    body = event(
        "message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}
    ) + event(
        "content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    )
    with pytest.raises(TruncatedStream):
        await drain(anthropic_with(body.encode(), seen))
    # System text goes to `system`, and consecutive user turns are merged.
    assert seen[0]["system"] == "S"
    assert seen[0]["messages"] == [{"role": "user", "content": "hi\n\nagain"}]
    assert seen[0]["max_tokens"] == 4096


async def test_anthropic_overloaded_event_is_a_server_error() -> None:
    body = event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(ProviderServerError):
        await drain(anthropic_with(body.encode(), []))


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
