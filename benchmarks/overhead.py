"""Added latency and throughput of the gateway over a direct call to a fast mock upstream.

    python benchmarks/overhead.py [--requests 400] [--concurrency 50]

Measures, for a direct call and through sluicegate (one worker, an `openai` provider):
p50/p99 latency at concurrency 1 (non-stream, and stream time to first token), and
requests/s and p99 at concurrency 50. Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from typing import Any

import httpx
from harness import run_load, start_gateway, start_mock, write_results

ANSWER = "The capital of France is Paris, a city on the Seine."
BODY = {"model": "m", "messages": [{"role": "user", "content": "What is the capital of France?"}]}


async def measure(base: str, model: str, requests: int, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        body = {**BODY, "model": model}

        async def whole() -> float:
            started = time.perf_counter()
            response = await client.post("/chat/completions", json=body)
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        async def first_token() -> float:
            started = time.perf_counter()
            elapsed = 0.0
            async with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
                async for line in response.aiter_lines():
                    if not elapsed and has_content(line):
                        elapsed = (time.perf_counter() - started) * 1000
            if not elapsed:
                raise RuntimeError("the stream carried no content")
            return elapsed

        for _ in range(50):  # warm-up: connections, caches, JIT-free but lazy imports
            await whole()
        return {
            "c1_nonstream": await run_load(whole, requests, 1),
            "c1_stream_ttft": await run_load(first_token, requests, 1),
            "c50_nonstream": await run_load(whole, requests * 5, concurrency),
        }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per measure and statistic, the median over the rounds."""
    return {
        measure: {stat: statistics.median(run[measure][stat] for run in runs) for stat in runs[0][measure]}
        for measure in runs[0]
    }


def has_content(line: str) -> bool:
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    mock, mock_url = start_mock({"m": [{"text": ANSWER}]})
    gateway = start_gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": mock_url + "/v1", "models": ["m"]}},
            "models": {"reasoning": {"use": ["up/m"], "max_concurrency": 1000}},
            "server": {"log_level": "warning"},
        },
        args.port,
    )
    try:
        # A B A B: alternate direct and gateway runs and keep the medians, so a noisy moment on
        # a shared machine does not land on one side only.
        rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "gateway": []}
        for _ in range(args.rounds):
            rounds["direct"].append(
                asyncio.run(measure(mock_url + "/v1", "m", args.requests, args.concurrency))
            )
            rounds["gateway"].append(
                asyncio.run(
                    measure(f"http://127.0.0.1:{args.port}/v1", "reasoning", args.requests, args.concurrency)
                )
            )
        direct, through = median_of(rounds["direct"]), median_of(rounds["gateway"])
    finally:
        gateway.stop()
        mock.stop()

    added = {
        "c1_nonstream_p50_ms": through["c1_nonstream"]["p50_ms"] - direct["c1_nonstream"]["p50_ms"],
        "c1_nonstream_p99_ms": through["c1_nonstream"]["p99_ms"] - direct["c1_nonstream"]["p99_ms"],
        "c1_stream_ttft_p50_ms": through["c1_stream_ttft"]["p50_ms"] - direct["c1_stream_ttft"]["p50_ms"],
        "c1_stream_ttft_p99_ms": through["c1_stream_ttft"]["p99_ms"] - direct["c1_stream_ttft"]["p99_ms"],
        "c50_p50_ms": through["c50_nonstream"]["p50_ms"] - direct["c50_nonstream"]["p50_ms"],
        "c50_p99_ms": through["c50_nonstream"]["p99_ms"] - direct["c50_nonstream"]["p99_ms"],
    }
    results = {
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "target": {"c1_nonstream_added_p50_ms_below": 3.0},
        "direct": direct,
        "gateway": through,
        "added": added,
        "gateway_c50_rps": through["c50_nonstream"]["rps"],
        "direct_c50_rps": direct["c50_nonstream"]["rps"],
    }
    path = write_results("overhead", results)
    print(f"{'measure':<28}{'direct':>12}{'gateway':>12}{'added':>12}")
    for key, label in [
        ("c1_nonstream", "c=1 non-stream p50 ms"),
        ("c1_stream_ttft", "c=1 stream TTFT p50 ms"),
    ]:
        d, g = direct[key]["p50_ms"], through[key]["p50_ms"]
        print(f"{label:<28}{d:>12.2f}{g:>12.2f}{g - d:>12.2f}")
    for key, label in [("c1_nonstream", "c=1 non-stream p99 ms"), ("c50_nonstream", "c=50 p99 ms")]:
        d, g = direct[key]["p99_ms"], through[key]["p99_ms"]
        print(f"{label:<28}{d:>12.2f}{g:>12.2f}{g - d:>12.2f}")
    d, g = direct["c50_nonstream"]["rps"], through["c50_nonstream"]["rps"]
    print(f"{'c=50 requests/s':<28}{d:>12.0f}{g:>12.0f}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
