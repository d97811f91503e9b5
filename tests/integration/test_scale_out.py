"""Two gateway processes on different ports, one Redis (state) and one PostgreSQL (audit): a client
alternating between them sees one budget, one cache, one breaker and one event log, and killing
one instance mid-stream loses no committed budget or event."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.keys import KeyRing
from sluicegate.state.redis import RedisStateStore
from sluicegate.testing import MockUpstream
from sluicegate.testing.processes import GatewayProcess

ADMIN_KEY = "sg-admin-scale-out"
SLOW_TEXT = " ".join(f"w{i}" for i in range(30))  # one chunk a word, 0.1 s apart: a 3 s stream


def config(upstream: MockUpstream, redis_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m", "down", "slow"]}
        },
        "models": {
            "r": {"use": ["up/m"]},
            "broken": {"use": ["up/down"]},
            "slow": {"use": ["up/slow"], "default_timeout": 30},
        },
        "state": {"backend": "redis", "url": redis_url},
        "audit": {"backend": "postgres", "dsn_env": "AUDIT_DSN"},
        "auth": {"admin_key_env": "SG_ADMIN_KEY"},
        "retry": {"attempts": 1},
        "budgets": {"reservation_ttl_s": 2},
    }


class Instances:
    def __init__(self, gateways: list[GatewayProcess], upstream: MockUpstream, secret: str) -> None:
        self.gateways = gateways
        self.upstream = upstream
        self.user_headers = {"authorization": f"Bearer {secret}"}
        self.admin_headers = {"authorization": f"Bearer {ADMIN_KEY}"}

    def url(self, index: int) -> str:
        return self.gateways[index % len(self.gateways)].url

    def chat(self, index: int, **body: Any) -> httpx.Response:
        payload = {"model": "r", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **body}
        return httpx.post(
            self.url(index) + "/v1/chat/completions", json=payload, headers=self.user_headers, timeout=30
        )

    def admin(self, index: int, path: str, **params: Any) -> Any:
        response = httpx.get(self.url(index) + path, params=params, headers=self.admin_headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def budget(self, index: int, user: str) -> dict[str, Any]:
        rows = self.admin(index, "/admin/budgets")["budgets"]
        return next(row for row in rows if row["user"] == user)

    def event_types(self, index: int, trace_id: str) -> list[str]:
        return [e["type"] for e in self.admin(index, "/admin/events", trace_id=trace_id)["events"]]

    def wait_for_events(self, index: int, trace_id: str, wanted: str, timeout: float = 10) -> list[str]:
        """The other instance writes in the background: wait until its events are in the log."""
        deadline = time.monotonic() + timeout
        while True:
            types = self.event_types(index, trace_id)
            if wanted in types or time.monotonic() > deadline:
                return types
            time.sleep(0.1)


async def key_for(redis_url: str, user: str, tokens_per_hour: int) -> str:
    store = RedisStateStore(redis_url)
    try:
        secret, _ = await KeyRing(store).create(user, tokens_per_hour)
        return secret
    finally:
        await store.aclose()


@pytest.fixture
def instances(
    threaded_upstream: Callable[..., MockUpstream], clean_redis_url: str, postgres_dsn: str, tmp_path: Path
) -> Iterator[Instances]:
    upstream = threaded_upstream(
        {
            "m": [{"text": "one two three four"}],
            "down": [{"fault": "server_error"}],
            "slow": [{"text": SLOW_TEXT, "chunk_delay_s": 0.1}],
        }
    )
    env = {"SG_ADMIN_KEY": ADMIN_KEY, "AUDIT_DSN": postgres_dsn}
    gateways: list[GatewayProcess] = []
    try:
        for _ in range(2):
            gateways.append(GatewayProcess(config(upstream, clean_redis_url), tmp_path, env=env))
        secret = asyncio.run(key_for(clean_redis_url, "ann", 100_000))
        yield Instances(gateways, upstream, secret)
    finally:
        for gateway in gateways:
            gateway.stop()  # also collects what an exited one printed, closing its pipes


def test_alternating_client_sees_one_budget_cache_breaker_and_event_log(instances: Instances) -> None:
    assert instances.url(0) != instances.url(1)

    # One budget: what either instance committed, both report.
    replies = [instances.chat(i) for i in range(6)]
    assert [r.status_code for r in replies] == [200] * 6
    spent = sum(r.json()["usage"]["total_tokens"] for r in replies)
    assert instances.budget(0, "ann")["used"] == spent
    assert instances.budget(1, "ann")["used"] == spent
    assert instances.budget(1, "ann")["reserved"] == 0

    # One cache: a deterministic answer stored by one instance is a hit on the other.
    calls_before = instances.upstream.calls["m"]
    first = instances.chat(0, temperature=0, messages=[{"role": "user", "content": "cache me"}])
    second = instances.chat(1, temperature=0, messages=[{"role": "user", "content": "cache me"}])
    assert (first.headers["x-sluicegate-cache"], second.headers["x-sluicegate-cache"]) == ("miss", "hit")
    assert (
        second.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    )
    assert instances.upstream.calls["m"] == calls_before + 1

    # One breaker: three failures, whichever instance saw them, open it for both.
    statuses = [instances.chat(i, model="broken").status_code for i in range(6)]
    assert statuses == [503] * 6
    assert instances.upstream.calls["down"] == 3
    for index in (0, 1):
        circuits = {c["target"]: c["state"] for c in instances.admin(index, "/admin/circuits")["circuits"]}
        assert circuits["up/down"] == "open"

    # One event log: a request served by one instance is read back through the other.
    trace_id = replies[0].headers["x-sluicegate-trace-id"]
    types = instances.wait_for_events(1, trace_id, "request_completed")
    assert {"request_received", "provider_attempt", "request_completed"} <= set(types)
    assert instances.event_types(0, trace_id) == types


def read_until_words(lines: Iterator[str], words: int) -> list[str]:
    seen: list[str] = []
    for line in lines:
        if line.startswith("data: {") and '"content":"w' in line:
            seen.append(line)
            if len(seen) >= words:
                return seen
    return seen


def stream_request(instances: Instances, index: int) -> tuple[str, dict[str, Any]]:
    body = {
        "model": "slow",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 40,
        "messages": [{"role": "user", "content": "go"}],
    }
    return instances.url(index) + "/v1/chat/completions", body


def test_killing_an_instance_mid_stream_loses_no_committed_budget_or_event(instances: Instances) -> None:
    completed = [instances.chat(i) for i in range(4)]
    committed = sum(r.json()["usage"]["total_tokens"] for r in completed)
    traces = [r.headers["x-sluicegate-trace-id"] for r in completed]
    for trace_id in traces:
        assert "request_completed" in instances.wait_for_events(1, trace_id, "request_completed")

    url, body = stream_request(instances, 0)
    with (
        httpx.stream("POST", url, json=body, headers=instances.user_headers, timeout=30) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        lines = response.iter_lines()
        assert len(read_until_words(lines, 3)) == 3
        instances.gateways[0].kill()  # SIGKILL: no shutdown hook runs
        read_until_words(lines, 100)

    survivor = instances.budget(1, "ann")
    assert survivor["used"] == committed  # nothing committed was lost
    assert survivor["reserved"] > 0  # the killed stream's worst case is still held...
    time.sleep(2.5)
    assert instances.budget(1, "ann")["reserved"] == 0  # ...until its reservation expires
    for trace_id in traces:
        assert "request_completed" in instances.event_types(1, trace_id)

    # The survivor goes on serving and committing against the same budget.
    after = instances.chat(1)
    assert after.status_code == 200
    assert instances.budget(1, "ann")["used"] == committed + after.json()["usage"]["total_tokens"]


def test_stopping_an_instance_mid_stream_finishes_the_stream_first(instances: Instances) -> None:
    url, body = stream_request(instances, 0)
    with httpx.stream("POST", url, json=body, headers=instances.user_headers, timeout=30) as response:
        trace_id = response.headers["x-sluicegate-trace-id"]
        received = response.iter_lines()
        assert len(read_until_words(received, 3)) == 3
        instances.gateways[0].process.terminate()  # SIGTERM: a rolling restart
        lines = list(received)
    assert [line for line in lines if line][-1] == "data: [DONE]"
    usage = next(json.loads(line[6:])["usage"] for line in lines if '"usage"' in line)
    # uvicorn shuts down gracefully, then re-raises the signal it caught: the exit status says so.
    assert instances.gateways[0].process.wait(15) in (0, -signal.SIGTERM)

    # The whole stream was committed and its events written before the process left.
    assert "request_completed" in instances.event_types(1, trace_id)
    assert instances.budget(1, "ann")["reserved"] == 0
    assert instances.budget(1, "ann")["used"] == usage["total_tokens"]
