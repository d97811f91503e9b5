"""One conformance suite, run against every adapter: the OpenAI and Anthropic adapters over
real mock servers on loopback, and the scripted provider in process. Each must give the same
answers and raise the same error types for the same scripted behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sluicegate.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderServerError,
    TruncatedStream,
)
from sluicegate.providers.anthropic import AnthropicProvider
from sluicegate.providers.base import Provider
from sluicegate.providers.openai_compat import OpenAICompatibleProvider
from sluicegate.providers.script import Script
from sluicegate.providers.scripted import ScriptedProvider
from sluicegate.types import Chunk, CompletionRequest, Message

ANSWER = "The capital of France is Paris."
MODELS: dict[str, Any] = {
    "ok": [{"text": ANSWER}],
    "echo": [{"echo": True}],
    "server-error": [{"fault": "server_error"}],
    "rate-limited": [{"fault": "rate_limited", "retry_after_s": 7}],
    "bad-request": [{"fault": "bad_request"}],
    "auth": [{"fault": "auth"}],
    "cut": [{"text": "one two three four five", "fault": "truncate", "fault_after_chunks": 2}],
    "error-event": [{"text": "one two three", "fault": "error_event", "fault_after_chunks": 1}],
    "malformed": [{"text": "one two", "fault": "malformed", "fault_after_chunks": 1}],
    "continue": [{"text": "The capital of France is Paris."}],
}
ADAPTERS = ["openai", "anthropic", "scripted"]


@pytest.fixture(params=ADAPTERS)
async def provider(
    request: pytest.FixtureRequest, upstream_factory: Callable[..., Any]
) -> AsyncIterator[Provider]:
    adapter: Provider
    if request.param == "scripted":
        adapter = ScriptedProvider("p", Script.parse({"models": MODELS}))
    else:
        upstream = await upstream_factory(MODELS)
        if request.param == "openai":
            adapter = OpenAICompatibleProvider("p", base_url=upstream.url + "/v1", api_key="k")
        else:
            adapter = AnthropicProvider("p", base_url=upstream.url, api_key="k")
    yield adapter
    await adapter.aclose()


def ask(model: str, text: str = "What is the capital of France?", **options: Any) -> CompletionRequest:
    return CompletionRequest(
        model=model, messages=(Message("system", "Be brief."), Message("user", text)), **options
    )


async def drain(provider: Provider, request: CompletionRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


async def test_generate(provider: Provider) -> None:
    completion = await provider.generate(ask("ok"))
    assert completion.text == ANSWER
    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.provider == "p"


async def test_stream_yields_text_then_one_final_chunk(provider: Provider) -> None:
    chunks = await drain(provider, ask("ok"))
    assert "".join(c.text for c in chunks) == ANSWER
    assert len([c for c in chunks if c.text]) > 1
    finals = [c for c in chunks if c.finish_reason]
    assert finals == [chunks[-1]]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_messages_reach_the_model(provider: Provider) -> None:
    completion = await provider.generate(ask("echo", "ping 42"))
    assert completion.text == "ping 42"


async def test_max_tokens_stops_with_length(provider: Provider) -> None:
    chunks = await drain(provider, ask("ok", max_tokens=3))
    assert chunks[-1].finish_reason == "length"
    assert len([c for c in chunks if c.text]) == 3


async def test_a_stop_sequence_ends_the_answer_before_it(provider: Provider) -> None:
    chunks = await drain(provider, ask("ok", stop=("Paris", "nowhere")))
    assert "".join(c.text for c in chunks) == "The capital of France is "
    assert chunks[-1].finish_reason == "stop"


async def test_assistant_prefix_is_continued(provider: Provider) -> None:
    chunks = await drain(provider, ask("continue", assistant_prefix="The capital of France "))
    assert "".join(c.text for c in chunks).strip() == "is Paris."


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("server-error", ProviderServerError),
        ("bad-request", ProviderBadRequest),
        ("auth", ProviderAuthError),
        ("rate-limited", ProviderRateLimited),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_errors_are_translated(
    provider: Provider, model: str, error: type[ProviderError], streaming: bool
) -> None:
    with pytest.raises(error) as caught:
        if streaming:
            await drain(provider, ask(model))
        else:
            await provider.generate(ask(model))
    if isinstance(caught.value, ProviderRateLimited):
        assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    ("model", "error"),
    [("cut", TruncatedStream), ("error-event", ProviderServerError), ("malformed", MalformedResponse)],
)
async def test_mid_stream_faults_raise_after_the_text_so_far(
    provider: Provider, model: str, error: type[ProviderError]
) -> None:
    seen: list[str] = []
    with pytest.raises(error):
        async for chunk in provider.stream(ask(model)):
            assert chunk.finish_reason is None, "a failed stream must never report success"
            seen.append(chunk.text)
    assert seen, "the text before the fault arrives first"


async def test_count_tokens_is_positive_and_grows(provider: Provider) -> None:
    short = await provider.count_tokens([Message("user", "hi")], "ok")
    long = await provider.count_tokens([Message("user", "hi " * 200)], "ok")
    assert 0 < short < long


def test_capabilities_are_declared(provider: Provider) -> None:
    assert provider.capabilities.streaming


# The embedded model answers for itself, not from a script: the same contract, checked on what a
# real model can promise (text, one final chunk with usage, max_tokens, continuation, token counts).
needs_local = pytest.mark.skipif(
    __import__("importlib").util.find_spec("llama_cpp") is None, reason="needs the [local] extra"
)


@pytest.fixture
async def local_model() -> AsyncIterator[Provider]:
    from sluicegate.providers.llamacpp import LlamaCppProvider

    provider = LlamaCppProvider("local")
    yield provider
    await provider.aclose()


@pytest.mark.local_model
@needs_local
async def test_local_model_keeps_the_contract(local_model: Provider) -> None:
    request = ask("smollm2-135m", max_tokens=6, temperature=0)
    completion = await local_model.generate(request)
    assert completion.text
    assert completion.finish_reason in ("stop", "length")
    assert 0 < completion.usage.completion_tokens <= 6
    chunks = await drain(local_model, request)
    assert [c for c in chunks if c.finish_reason] == [chunks[-1]]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == completion.usage.prompt_tokens
    continued = await drain(
        local_model,
        ask("smollm2-135m", max_tokens=4, temperature=0, assistant_prefix="The capital of France is"),
    )
    assert "".join(c.text for c in continued).strip()
    assert await local_model.count_tokens(
        [Message("user", "hi " * 50)], "m"
    ) > await local_model.count_tokens([Message("user", "hi")], "m")
