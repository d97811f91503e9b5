"""`n > 1` with the official client: each choice a whole run of the pipeline (its own trace,
budget and guard), over any target — one whose API has `n` and one whose API has not — streamed
and not; usage summed; a bound on n refused by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

ASK = [{"role": "user", "content": "Call me at 415-555-0132, please."}]


@pytest.fixture
def served(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> Iterator[tuple[openai.OpenAI, UvicornThread, MockUpstream]]:
    upstream = threaded_upstream({"m": [{"echo": True}]})
    server = gateway(
        {
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": ["m"]},
            },
            "models": {"openai": {"use": ["up/m"]}, "anthropic": {"use": ["claude/m"]}},
            "budgets": {"tokens_per_hour_per_user": 100_000},
        }
    )
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0) as client:
        yield client, server, upstream


@pytest.mark.parametrize("adapter", ["openai", "anthropic"])
def test_each_choice_is_a_whole_guarded_run(
    served: tuple[openai.OpenAI, UvicornThread, MockUpstream], adapter: str
) -> None:
    client, server, upstream = served
    reply = client.chat.completions.create(model=adapter, messages=ASK, n=3)  # type: ignore[arg-type]
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    for choice in reply.choices:
        # Each went through the inline guard: the echoed phone number is redacted in every one.
        assert "415-555-0132" not in (choice.message.content or "")
        assert choice.finish_reason == "stop"
    assert upstream.calls["m"] == 3
    assert all("n" not in sent for sent in upstream.requests)  # fanned out, never forwarded
    per_choice = reply.model_extra["x_sluicegate"]["choices"]  # type: ignore[index]
    traces = {entry["trace_id"] for entry in per_choice}
    assert len(traces) == 3
    one = client.chat.completions.create(model=adapter, messages=ASK)  # type: ignore[arg-type]
    assert reply.usage is not None
    assert one.usage is not None
    assert reply.usage.completion_tokens == 3 * one.usage.completion_tokens  # summed over the runs
    assert reply.usage.prompt_tokens == 3 * one.usage.prompt_tokens
    # Every choice has its own audit trail, budget included.
    for trace in traces:
        events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
        assert any(e["payload"].get("decision") == "committed" for e in events)


def test_streamed_choices_arrive_under_their_index(
    served: tuple[openai.OpenAI, UvicornThread, MockUpstream],
) -> None:
    client, _, _ = served
    stream = client.chat.completions.create(
        model="openai",
        messages=[{"role": "user", "content": "one two three"}],
        n=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: dict[int, str] = {0: "", 1: ""}
    finished: list[int] = []
    ids: set[str] = set()
    usage = None
    for chunk in stream:
        ids.add(chunk.id)
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.append(choice.index)
    assert texts == {0: "one two three", 1: "one two three"}
    assert sorted(finished) == [0, 1]
    assert len(ids) == 1  # one answer, one id
    assert usage is not None
    assert usage.completion_tokens > 0


def test_more_choices_than_the_bound_are_refused_by_name(
    served: tuple[openai.OpenAI, UvicornThread, MockUpstream],
) -> None:
    client, _, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="openai", messages=ASK, n=9)  # type: ignore[arg-type]
    assert refused.value.body["param"] == "n"  # type: ignore[index]
