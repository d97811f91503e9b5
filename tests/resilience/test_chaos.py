"""The resilience stack against a chaos upstream: a real server on loopback that returns 500s,
429s with Retry-After, hangs, drips tokens, cuts connections, sends malformed SSE and in-band
error events. Each test counts exactly which calls reached the failing upstream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from sluicegate.calltrace import CallTrace
from sluicegate.config.schema import Config
from sluicegate.errors import AllProvidersFailed, GatewayTimeout, Overloaded
from sluicegate.resilience.breaker import CircuitState, Transition
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.testing import MockUpstream
from sluicegate.testing.pipeline import ask
from sluicegate.testing.webhook import WebhookReceiver
from sluicegate.types import CompletionRequest, Message

ANSWER = "The capital of France is Paris, on the river Seine."


MakeRuntime = Callable[..., Runtime]


@pytest.fixture
async def runtime_for() -> AsyncIterator[MakeRuntime]:
    built: list[Runtime] = []

    def make(upstream: MockUpstream, roles: dict[str, Any], **extra: Any) -> Runtime:
        config = Config.model_validate(
            {
                "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1"}},
                "models": roles,
                "retry": {"attempts": 3, "base_delay_s": 0.01, "max_delay_s": 0.05},
                "cache": {"enabled": False},  # resilience is under test here, not the cache
                **extra,
            }
        )
        built.append(build_runtime(config))
        return built[-1]

    yield make
    for runtime in built:
        await runtime.aclose()


def request(temperature: float | None = None, text: str = "capital of France?") -> CompletionRequest:
    return CompletionRequest(model="x", messages=(Message("user", text),), temperature=temperature)


async def call(
    runtime: Runtime, role: str, req: CompletionRequest | None = None, *, stream: bool = False
) -> tuple[str, CallTrace]:
    asked = replace(req or request(), model=role)
    completion, context, _ = await ask(runtime.pipeline, asked, stream=stream)
    return completion.text, context.call


Start = Callable[[dict[str, Any]], Any]


async def test_500s_open_the_breaker_and_stop_traffic(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory(
        {"primary": [{"fault": "server_error"}], "fallback": [{"text": ANSWER}]}
    )
    runtime = runtime_for(upstream, {"r": {"use": ["up/primary", "up/fallback"]}})
    transitions: list[Transition] = []
    runtime.stacks.breakers.listeners.append(transitions.append)
    for _ in range(10):
        text, trace = await call(runtime, "r")
        assert text == ANSWER
        assert trace.served_by == "up/fallback"
    assert upstream.calls["primary"] == 3  # then the circuit is open: no traffic at all
    assert upstream.calls["fallback"] == 10
    assert [(t.target, t.to_state) for t in transitions] == [("up/primary", CircuitState.open)]


async def test_429_retry_after_opens_then_half_open_probe_closes(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory(
        {
            "primary": [{"fault": "rate_limited", "retry_after_s": 0.3}, {"text": "primary is back"}],
            "fallback": [{"text": ANSWER}],
        }
    )
    runtime = runtime_for(upstream, {"r": {"use": ["up/primary", "up/fallback"]}})
    transitions: list[Transition] = []
    runtime.stacks.breakers.listeners.append(transitions.append)
    assert (await call(runtime, "r"))[0] == ANSWER
    assert (await call(runtime, "r"))[0] == ANSWER
    assert upstream.calls["primary"] == 1
    await asyncio.sleep(0.35)
    assert (await call(runtime, "r"))[0] == "primary is back"
    assert [t.to_state.value for t in transitions] == ["open", "half_open", "closed"]
    assert "rate limited" in transitions[0].reason


async def test_hang_fails_over_within_the_attempt_timeout(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"primary": [{"fault": "hang"}], "fallback": [{"text": ANSWER}]})
    runtime = runtime_for(
        upstream, {"r": {"use": ["up/primary", "up/fallback"], "default_timeout": 5, "attempt_timeout": 0.2}}
    )
    started = time.monotonic()
    text, trace = await call(runtime, "r", stream=True)
    assert text == ANSWER
    assert time.monotonic() - started < 2.5  # far below the 5 s deadline, even on a loaded machine
    assert [a.error for a in trace.attempts] == ["timeout"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"fault": "truncate", "fault_after_chunks": 4}, "truncated_stream"),
        ({"fault": "malformed", "fault_after_chunks": 4}, "malformed_response"),
        ({"fault": "error_event", "fault_after_chunks": 4}, "server_error"),
        ({"chunk_delay_s": 0.5}, "timeout"),  # drips slower than the attempt timeout allows
    ],
)
async def test_mid_stream_failure_is_continued_by_the_next_provider(
    runtime_for: MakeRuntime, upstream_factory: Start, fault: dict[str, Any], error: str
) -> None:
    upstream = await upstream_factory(
        {"primary": [{"text": ANSWER, **fault}], "fallback": [{"text": ANSWER}]}
    )
    runtime = runtime_for(upstream, {"r": {"use": ["up/primary", "up/fallback"], "attempt_timeout": 0.3}})
    text, trace = await call(runtime, "r", stream=True)
    assert text == ANSWER
    assert trace.failovers[0].error == error
    assert trace.failovers[0].after_chars > 0
    continued: Any = upstream.requests[-1]["messages"]
    assert continued[-2]["role"] == "assistant"
    assert ANSWER.startswith(continued[-2]["content"])


async def test_deadline_is_respected(runtime_for: MakeRuntime, upstream_factory: Start) -> None:
    upstream = await upstream_factory({"slow": [{"fault": "hang"}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/slow"], "default_timeout": 0.4}})
    for stream in (False, True):
        started = time.monotonic()
        with pytest.raises(GatewayTimeout):
            await call(runtime, "r", stream=stream)
        assert time.monotonic() - started < 2.0  # the 0.4 s deadline, not the 60 s default


@pytest.mark.parametrize("stream", [False, True])
async def test_a_hang_on_a_roles_only_target_counts_until_the_breaker_opens(
    runtime_for: MakeRuntime, upstream_factory: Start, stream: bool
) -> None:
    """The role's deadline cancels the attempt; that cancellation is a failure of the target, or a
    role whose only target hangs waits out its timeout on every call, forever."""
    upstream = await upstream_factory({"slow": [{"fault": "hang"}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/slow"], "default_timeout": 0.2}})
    for _ in range(3):  # the failure threshold
        with pytest.raises(GatewayTimeout):
            await call(runtime, "r", stream=stream)
    [snapshot] = await runtime.stacks.breakers.snapshots()
    assert snapshot.state.value == "open"
    started = time.monotonic()
    with pytest.raises(AllProvidersFailed) as refused:
        await call(runtime, "r", stream=stream)
    assert time.monotonic() - started < 0.15  # failed fast, no wait for the deadline
    assert [a.error for a in refused.value.attempts] == ["circuit_open"]
    assert upstream.calls["slow"] == 3


async def test_a_caller_that_goes_away_says_nothing_about_the_provider(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"slow": [{"fault": "hang"}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/slow"], "default_timeout": 30}})
    for _ in range(4):
        task = asyncio.create_task(call(runtime, "r"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [snapshot] = await runtime.stacks.breakers.snapshots()
    assert (snapshot.state.value, snapshot.recent_failures) == ("closed", 0)


async def test_outage_alerts_once_and_recovery_is_reported(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory(
        {
            "a": [
                {"fault": "server_error"},
                {"fault": "server_error"},
                {"fault": "server_error"},
                {"text": "ok"},
            ]
        }
    )
    runtime = runtime_for(
        upstream, {"r": {"use": ["up/a"]}}, retry={"attempts": 1}, circuit_breaker={"reset_timeout_s": 0.2}
    )
    for _ in range(3):
        with pytest.raises(AllProvidersFailed) as caught:
            await call(runtime, "r")
        assert caught.value.attempts[0].error == "server_error"
    assert [a["alert"] for a in runtime.stacks.alerter.sent] == ["outage"]
    # The breaker opened after three failures; its half-open probe, once due, succeeds.
    await asyncio.sleep(0.25)
    assert (await call(runtime, "r"))[0] == "ok"
    assert [a["alert"] for a in runtime.stacks.alerter.sent] == ["outage", "recovered"]


async def test_retries_then_succeeds(runtime_for: MakeRuntime, upstream_factory: Start) -> None:
    upstream = await upstream_factory({"flaky": [{"fault": "server_error"}, {"text": ANSWER}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/flaky"]}})
    text, trace = await call(runtime, "r", stream=True)
    assert text == ANSWER
    assert upstream.calls["flaky"] == 2
    assert [a.error for a in trace.attempts] == ["server_error"]


async def test_bad_request_is_never_retried(runtime_for: MakeRuntime, upstream_factory: Start) -> None:
    upstream = await upstream_factory({"strict": [{"fault": "bad_request"}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/strict"]}})
    with pytest.raises(Exception, match="upstream answered 400"):
        await call(runtime, "r")
    assert upstream.calls["strict"] == 1


async def test_100_identical_requests_reach_the_upstream_once(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"m": [{"text": ANSWER, "first_delay_s": 0.2}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/m"], "max_concurrency": 2}})
    results = await asyncio.gather(*(call(runtime, "r", request(temperature=0)) for _ in range(100)))
    assert {text for text, _ in results} == {ANSWER}
    assert upstream.calls["m"] == 1
    streams = await asyncio.gather(
        *(call(runtime, "r", request(temperature=0), stream=True) for _ in range(100))
    )
    assert {text for text, _ in streams} == {ANSWER}
    assert upstream.calls["m"] == 2
    assert sum(trace.coalesced for _, trace in streams) == 99


@pytest.mark.parametrize("stream", [False, True])
async def test_coalesced_requests_each_keep_their_own_trace(
    runtime_for: MakeRuntime, upstream_factory: Start, stream: bool
) -> None:
    """The shared call once wrote into the first caller's trace only: the others had no served_by
    and no attempts, and their audit events were missing."""
    upstream = await upstream_factory(
        {"down": [{"fault": "server_error"}], "m": [{"text": ANSWER, "first_delay_s": 0.1}]}
    )
    runtime = runtime_for(upstream, {"r": {"use": ["up/down", "up/m"]}}, retry={"attempts": 1})
    results = await asyncio.gather(
        *(call(runtime, "r", request(temperature=0), stream=stream) for _ in range(4))
    )
    assert upstream.calls["m"] == 1
    traces = [trace for _, trace in results]
    assert len({trace.trace_id for trace in traces}) == 4
    assert [trace.served_by for trace in traces] == ["up/m"] * 4
    assert all([a.error for a in trace.attempts] == ["server_error"] for trace in traces)
    assert sum(trace.coalesced for trace in traces) == 3
    # Each trace's audit events are its own: its attempts, who served it, its own moves.
    await runtime.audit.flush()
    assert runtime.audit.store is not None
    for trace in traces:
        events = [stored.event for stored in await runtime.audit.store.query(trace_id=trace.trace_id)]
        attempts = [e.payload["outcome"] for e in events if e.type == "provider_attempt"]
        assert attempts == ["server_error", "ok"]
        moves = [e.payload["to_state"] for e in events if e.type == "routing_transition"]
        assert (moves[0], moves[-1]) == ("AUTHORIZE", "COMPLETED")


async def test_a_cancelled_first_caller_does_not_cancel_the_others(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"m": [{"text": ANSWER, "chunk_delay_s": 0.02}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/m"]}})
    first = asyncio.create_task(call(runtime, "r", request(temperature=0), stream=True))
    await asyncio.sleep(0.05)
    others = [asyncio.create_task(call(runtime, "r", request(temperature=0), stream=True)) for _ in range(5)]
    await asyncio.sleep(0.05)
    first.cancel()
    results = await asyncio.gather(*others)
    assert {text for text, _ in results} == {ANSWER}
    assert upstream.calls["m"] == 1


async def test_non_deterministic_requests_are_not_coalesced(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"m": [{"text": ANSWER, "first_delay_s": 0.05}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/m"]}})
    await asyncio.gather(*(call(runtime, "r", request(temperature=0.7)) for _ in range(5)))
    assert upstream.calls["m"] == 5


async def test_concurrency_limit_queues_then_refuses(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    upstream = await upstream_factory({"m": [{"text": ANSWER, "first_delay_s": 0.3}]})
    runtime = runtime_for(
        upstream, {"r": {"use": ["up/m"], "max_concurrency": 2, "max_queue": 1, "queue_timeout": 5}}
    )
    results = await asyncio.gather(*(call(runtime, "r") for _ in range(5)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Overloaded)]
    assert len(refused) == 2
    assert all(r.status == 429 and int(r.headers()["retry-after"]) >= 1 for r in refused)
    assert upstream.calls["m"] == 3


async def test_queue_wait_is_bounded(runtime_for: MakeRuntime, upstream_factory: Start) -> None:
    upstream = await upstream_factory({"m": [{"text": ANSWER, "first_delay_s": 1}]})
    runtime = runtime_for(upstream, {"r": {"use": ["up/m"], "max_concurrency": 1, "queue_timeout": 0.2}})
    results = await asyncio.gather(call(runtime, "r"), call(runtime, "r"), return_exceptions=True)
    assert isinstance(results[1], Overloaded)
    assert "stayed at capacity" in results[1].message


async def test_outage_alert_is_posted_to_the_webhook(
    runtime_for: MakeRuntime, upstream_factory: Start
) -> None:
    hook = WebhookReceiver()
    await hook.start()
    upstream = await upstream_factory({"a": [{"fault": "server_error"}]})
    runtime = runtime_for(
        upstream,
        {"r": {"use": ["up/a"]}},
        retry={"attempts": 1},
        alerts={"webhook_url": hook.url + "/alerts"},
    )
    for _ in range(2):
        with pytest.raises(AllProvidersFailed):
            await call(runtime, "r")
    await runtime.stacks.alerter.aclose()
    await hook.close()
    assert [(path, body["alert"], body["role"]) for path, body in hook.received] == [
        ("/alerts", "outage", "r")
    ]
    assert hook.received[0][1]["attempts"] == [{"provider": "up", "model": "a", "error": "server_error"}]
