"""The failover chain: in order, before and after the first token, and never for the caller's
own mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from sluicegate.calltrace import CallTrace, end_trace, start_trace
from sluicegate.errors import ChainExhausted, UpstreamRejected
from sluicegate.providers.script import Script
from sluicegate.providers.scripted import ScriptedProvider
from sluicegate.resilience.failover import FailoverChain
from sluicegate.routing.roles import Target
from sluicegate.types import CompletionRequest, Message

FULL = "The capital of France is Paris, on the Seine."


def chain(*models: str, script: dict[str, Any]) -> tuple[FailoverChain, ScriptedProvider]:
    provider = ScriptedProvider("s", Script.parse({"models": script}))
    return FailoverChain("role", [Target(provider, m) for m in models]), provider


REQUEST = CompletionRequest(model="role", messages=(Message("user", "capital of France?"),))


@pytest.fixture
def trace() -> Any:
    current = CallTrace()
    token = start_trace(current)
    yield current
    end_trace(token)


async def test_first_healthy_target_serves(trace: CallTrace) -> None:
    failover, _provider = chain(
        "down", "up", script={"down": [{"fault": "server_error"}], "up": [{"text": FULL}]}
    )
    completion = await failover.generate(REQUEST)
    assert completion.text == FULL
    assert trace.served_by == "s/up"
    assert [(a.model, a.error) for a in trace.attempts] == [("down", "server_error")]


async def test_mid_stream_failover_continues_the_text(trace: CallTrace) -> None:
    failover, _ = chain(
        "cut",
        "backup",
        script={
            "cut": [{"text": FULL, "fault": "truncate", "fault_after_chunks": 3}],
            "backup": [{"text": FULL}],
        },
    )
    chunks = [c async for c in failover.stream(REQUEST)]
    assert "".join(c.text for c in chunks) == FULL
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert trace.failovers[0].from_target == "s/cut"
    assert trace.failovers[0].after_chars == len("The capital of ")


async def test_everyone_failing_lists_every_attempt(trace: CallTrace) -> None:
    failover, _ = chain("a", "b", script={"a": [{"fault": "server_error"}], "b": [{"fault": "rate_limited"}]})
    with pytest.raises(ChainExhausted) as caught:
        await failover.generate(REQUEST)
    assert [a.error for a in caught.value.attempts] == ["server_error", "rate_limited"]


async def test_a_bad_request_is_not_failed_over(trace: CallTrace) -> None:
    failover, provider = chain(
        "refuses", "up", script={"refuses": [{"fault": "bad_request"}], "up": [{"text": FULL}]}
    )
    with pytest.raises(UpstreamRejected):
        await failover.generate(REQUEST)
    assert provider.player.calls["up"] == 0
