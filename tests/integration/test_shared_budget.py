"""No overspend under contention: 200 concurrent requests from one user whose budget covers 50,
against one gateway and against two gateway processes sharing one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.budgets import BudgetLedger
from sluicegate.keys import KeyRing
from sluicegate.state.redis import RedisStateStore
from sluicegate.testing import MockUpstream
from sluicegate.testing.processes import GatewayProcess

REQUESTS = 200
MAX_TOKENS = 10


def config(upstream: MockUpstream, redis_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]}},
        "models": {"reasoning": {"use": ["up/m"], "max_concurrency": 500, "max_queue": 500}},
        "state": {"backend": "redis", "url": redis_url},
        "audit": {"path": str(tmp_path / "audit.db")},
        "cache": {"enabled": False},
    }


@pytest.fixture
def gateways(
    threaded_upstream: Callable[..., MockUpstream], redis_url: str, tmp_path: Path
) -> Iterator[Callable[[int], list[str]]]:
    started: list[GatewayProcess] = []

    def start(count: int) -> list[str]:
        upstream = threaded_upstream({"m": [{"text": "one two three four five", "first_delay_s": 0.02}]})
        for _ in range(count):
            started.append(GatewayProcess(config(upstream, redis_url, tmp_path), tmp_path))
        return [gateway.url for gateway in started[-count:]]

    yield start
    for gateway in started:
        gateway.stop()


async def user_with_budget(redis_url: str, user: str, requests_covered: int) -> tuple[str, int]:
    """A key whose hourly budget covers `requests_covered` worst-case reservations."""
    store = RedisStateStore(redis_url)
    try:
        await store.delete(f"budget:{user}")
        from sluicegate.providers.tokens import tiktoken_message_tokens
        from sluicegate.types import Message

        worst = tiktoken_message_tokens([Message("user", "x")]) + MAX_TOKENS
        budget = worst * requests_covered
        secret, _ = await KeyRing(store).create(user, budget)
        return secret, budget
    finally:
        await store.aclose()


async def hammer(urls: list[str], secret: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        body = {
            "model": "reasoning",
            "max_tokens": MAX_TOKENS,
            "messages": [{"role": "user", "content": "x"}],
        }
        headers = {"authorization": f"Bearer {secret}"}
        return await asyncio.gather(
            *(
                client.post(urls[i % len(urls)] + "/v1/chat/completions", json=body, headers=headers)
                for i in range(REQUESTS)
            )
        )


async def committed(redis_url: str, user: str, budget: int) -> tuple[int, int]:
    store = RedisStateStore(redis_url)
    try:
        usage = await BudgetLedger(store).usage(user, budget)
        return usage.used, usage.reserved
    finally:
        await store.aclose()


@pytest.mark.parametrize("instances", [1, 2])
def test_no_overspend_under_contention(
    gateways: Callable[[int], list[str]], redis_url: str, instances: int
) -> None:
    urls = gateways(instances)
    user = f"contended-{instances}"
    secret, budget = asyncio.run(user_with_budget(redis_url, user, requests_covered=50))
    responses = asyncio.run(hammer(urls, secret))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) >= 50  # everything the budget covers got through
    assert 429 in statuses
    spent = sum(r.json()["usage"]["total_tokens"] for r in ok)
    used, reserved = asyncio.run(committed(redis_url, user, budget))
    assert reserved == 0  # every reservation was settled
    assert used == spent  # what was committed is what the answers reported
    assert used <= budget  # and it never exceeds the budget
