"""`logprobs` and `top_logprobs` with the official client: forwarded to OpenAI-compatible targets
and returned as they came, streamed and not; refused by name where a target cannot return them,
and while guardrails could change the text they describe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

OFF = {"pii": "off", "competitors": "off", "profanity": "off"}
ASK = [{"role": "user", "content": "say something"}]


def start(
    threaded_upstream: Callable[..., MockUpstream],
    gateway: Callable[..., UvicornThread],
    inline: dict[str, str],
) -> tuple[openai.OpenAI, MockUpstream]:
    upstream = threaded_upstream({"m": [{"text": "The shop opens at nine."}]})
    server = gateway(
        {
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": ["m"]},
            },
            "models": {"plain": {"use": ["up/m"]}, "claude": {"use": ["claude/m"]}},
            "guardrails": {"inline": inline},
        }
    )
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0), upstream


@pytest.fixture
def unguarded(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> Iterator[tuple[openai.OpenAI, MockUpstream]]:
    client, upstream = start(threaded_upstream, gateway, OFF)
    with client:
        yield client, upstream


def test_logprobs_come_back_with_the_answer(unguarded: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, upstream = unguarded
    reply = client.chat.completions.create(model="plain", messages=ASK, logprobs=True, top_logprobs=2)  # type: ignore[arg-type]
    choice = reply.choices[0]
    assert choice.logprobs is not None
    content = choice.logprobs.content or []
    assert "".join(entry.token for entry in content) == choice.message.content
    assert all(len(entry.top_logprobs) == 2 for entry in content)
    assert all(entry.logprob < 0 and entry.bytes == list(entry.token.encode()) for entry in content)
    assert upstream.requests[-1]["logprobs"] is True
    assert upstream.requests[-1]["top_logprobs"] == 2


def test_each_streamed_piece_carries_its_logprobs(unguarded: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, _ = unguarded
    text: list[str] = []
    tokens: list[str] = []
    for chunk in client.chat.completions.create(model="plain", messages=ASK, logprobs=True, stream=True):  # type: ignore[arg-type]
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
            logprobs = chunk.choices[0].logprobs
            assert logprobs is not None
            tokens += [entry.token for entry in logprobs.content or []]
    assert "".join(tokens) == "".join(text) == "The shop opens at nine."


def test_without_logprobs_none_come_back(unguarded: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, upstream = unguarded
    reply = client.chat.completions.create(model="plain", messages=ASK)  # type: ignore[arg-type]
    assert reply.choices[0].logprobs is None
    assert "logprobs" not in upstream.requests[-1]


def test_a_deterministic_request_with_logprobs_is_not_served_from_the_cache(
    unguarded: tuple[openai.OpenAI, MockUpstream],
) -> None:
    client, upstream = unguarded
    for _ in range(2):
        reply = client.chat.completions.create(model="plain", messages=ASK, logprobs=True, temperature=0)  # type: ignore[arg-type]
        assert reply.choices[0].logprobs is not None
        assert reply.choices[0].logprobs.content
    assert upstream.calls["m"] == 2


@pytest.mark.parametrize(
    ("inline", "model", "extra", "says"),
    [
        # The default inline rules are on: log probabilities would give away what they redact.
        ({}, "plain", {"logprobs": True}, "not returned while the inline guardrails are on"),
        (OFF, "claude", {"logprobs": True}, "'logprobs' is not supported by claude/m"),
        (OFF, "plain", {"top_logprobs": 2}, "'top_logprobs' needs 'logprobs': true"),
        (OFF, "plain", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
)
def test_refused_by_name_where_they_cannot_be_honest(
    threaded_upstream: Callable[..., MockUpstream],
    gateway: Callable[..., UvicornThread],
    inline: dict[str, str],
    model: str,
    extra: dict[str, Any],
    says: str,
) -> None:
    client, _ = start(threaded_upstream, gateway, inline)
    with client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=model, messages=ASK, **extra)  # type: ignore[arg-type]
    assert says in refused.value.message
