"""The per-request cost of sluicegate's cost controls, on SQLite and on Redis: authenticate a
virtual key, reserve and commit a budget, look up the response cache. And the overspend under
200-way contention for a budget that covers 50 requests (target: 0 tokens over).

    python benchmarks/budgets.py [--requests 2000]

Writes benchmarks/results/budgets.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import percentile, write_results

from sluicegate.budgets import BudgetLedger
from sluicegate.cache import ResponseCache
from sluicegate.errors import BudgetExceeded
from sluicegate.keys import KeyRing
from sluicegate.state.base import StateStore
from sluicegate.state.redis import RedisStateStore
from sluicegate.state.sqlite import SqliteStateStore
from sluicegate.testing.servers import redis_server
from sluicegate.types import CompletionRequest, Message

WORST = 500  # tokens reserved per request
USED = 300  # tokens each request really uses


async def per_request_cost(store: StateStore, requests: int) -> dict[str, float]:
    keys, ledger, cache = KeyRing(store), BudgetLedger(store), ResponseCache(store, 3600)
    secret, _ = await keys.create("bench-user", 10**12)
    request = CompletionRequest(
        "reasoning", (Message("user", "What is the capital of France?"),), temperature=0
    )
    timings: dict[str, list[float]] = {
        "auth": [],
        "reserve": [],
        "commit": [],
        "cache_lookup": [],
        "total": [],
    }
    for _ in range(requests):
        t0 = time.perf_counter()
        key = await keys.authenticate(secret)
        t1 = time.perf_counter()
        await cache.get(cache.key("reasoning", request))
        t2 = time.perf_counter()
        assert key is not None
        reservation = await ledger.reserve(key.user, WORST, 10**12, 900)
        t3 = time.perf_counter()
        await ledger.commit(reservation, USED)
        t4 = time.perf_counter()
        for name, start, end in (
            ("auth", t0, t1),
            ("cache_lookup", t1, t2),
            ("reserve", t2, t3),
            ("commit", t3, t4),
            ("total", t0, t4),
        ):
            timings[name].append((end - start) * 1e6)
    summary: dict[str, float] = {}
    for name, values in timings.items():
        summary[f"{name}_p50_us"] = statistics.median(values)
        summary[f"{name}_p99_us"] = percentile(values, 99)
    return summary


async def contention(store: StateStore, concurrency: int = 200, covered: int = 50) -> dict[str, Any]:
    ledger = BudgetLedger(store)
    budget = WORST * covered
    user = f"contended-{time.time_ns()}"

    async def one() -> bool:
        try:
            reservation = await ledger.reserve(user, WORST, budget, 900)
        except BudgetExceeded:
            return False
        await asyncio.sleep(0.001)  # the model call
        await ledger.commit(reservation, USED)
        return True

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    usage = await ledger.usage(user, budget)
    return {
        "concurrency": concurrency,
        "budget_tokens": budget,
        "admitted": sum(results),
        "refused": concurrency - sum(results),
        "committed_tokens": usage.used,
        "overspend_tokens": max(0, usage.used - budget),
        "seconds": round(elapsed, 3),
    }


async def measure(store: StateStore, requests: int) -> dict[str, Any]:
    try:
        return {"per_request": await per_request_cost(store, requests), "contention": await contention(store)}
    finally:
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, Any] = {"requests": args.requests, "target": {"overspend_tokens": 0}}
    results["sqlite"] = asyncio.run(
        measure(SqliteStateStore(Path(tempfile.mkdtemp()) / "state.db"), args.requests)
    )
    with redis_server() as url:
        results["redis"] = asyncio.run(measure(RedisStateStore(url), args.requests))
    path = write_results("budgets", results)
    print(
        f"{'backend':<8}{'auth':>10}{'cache':>10}{'reserve':>10}{'commit':>10}{'total p50':>11}{'p99':>10}"
        f"{'overspend':>11}"
    )
    for backend in ("sqlite", "redis"):
        r = results[backend]["per_request"]
        over = results[backend]["contention"]["overspend_tokens"]
        print(
            f"{backend:<8}{r['auth_p50_us']:>10.0f}{r['cache_lookup_p50_us']:>10.0f}{r['reserve_p50_us']:>10.0f}"
            f"{r['commit_p50_us']:>10.0f}{r['total_p50_us']:>11.0f}{r['total_p99_us']:>10.0f}{over:>11}"
        )
    print("(microseconds; overspend in tokens under 200-way contention)")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
