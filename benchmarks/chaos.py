"""Chaos: 2,000 requests at concurrency 50 while the primary fails 30 % of its calls at random
(a mix of 500s, hangs and connections cut mid-stream) and a fallback is healthy.

    python benchmarks/chaos.py [--requests 2000] [--concurrency 50]

Reports the success rate (target 100 %), p50/p99 latency, and how many calls were sent to the
primary while its breaker was open (target 0): an HTTP transport under the adapter notes when
each upstream call leaves the gateway, the breaker's transitions are noted on the same clock,
and the mock upstream (a separate process) counts the arrivals as a cross-check.
Writes benchmarks/results/chaos.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

import httpx
from harness import percentile, start_mock, write_results

from sluicegate.config.schema import Config
from sluicegate.providers.openai_compat import OpenAICompatibleProvider
from sluicegate.resilience.breaker import CircuitState, Transition
from sluicegate.runtime import build_runtime
from sluicegate.server import create_app
from sluicegate.testing.threads import UvicornThread

ANSWER = "The capital of France is Paris, a city on the river Seine with many bridges."


def primary_script(seed: int, failure_rate: float = 0.3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    faults = [
        {"fault": "server_error"},
        {"fault": "hang"},
        {"text": ANSWER, "fault": "truncate", "fault_after_chunks": 3},
    ]
    replies = []
    for _ in range(1000):
        replies.append(dict(rng.choice(faults)) if rng.random() < failure_rate else {"text": ANSWER})
    return replies


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Notes which model each upstream call is for, and when it left the gateway."""

    def __init__(self, sent: list[tuple[str, float]]) -> None:
        super().__init__()
        self.sent = sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((json.loads(request.content)["model"], time.monotonic()))
        return await super().handle_async_request(request)


def open_intervals(transitions: list[Transition], target: str, end: float) -> list[tuple[float, float]]:
    """When the target's breaker refused traffic: from each open until it next left open."""
    intervals = []
    opened: float | None = None
    for t in transitions:
        if t.target != target:
            continue
        if t.to_state is CircuitState.open:
            opened = t.at
        elif opened is not None:
            intervals.append((opened, t.at))
            opened = None
    if opened is not None:
        intervals.append((opened, end))
    return intervals


async def drive(url: str, total: int, concurrency: int) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    failures: list[str] = []
    remaining = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for index in remaining:
                body = {
                    "model": "assistant",
                    "stream": index % 2 == 0,
                    "messages": [{"role": "user", "content": f"question {index}"}],
                }
                started = time.perf_counter()
                try:
                    text = await request(client, body)
                    if text != ANSWER:
                        failures.append(f"wrong text: {text[:60]!r}")
                except httpx.HTTPError as exc:
                    failures.append(type(exc).__name__)
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


async def request(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    if not body["stream"]:
        response = await client.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])
    parts: list[str] = []
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                data = json.loads(line[6:])
                if "error" in data:
                    raise httpx.HTTPError(data["error"]["message"])
                for choice in data.get("choices", []):
                    parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    mock, mock_url = start_mock({"primary": primary_script(args.seed), "fallback": [{"text": ANSWER}]})
    config = Config.model_validate(
        {
            "providers": {"up": {"type": "openai", "base_url": mock_url + "/v1"}},
            "models": {
                "assistant": {
                    "use": ["up/primary", "up/fallback"],
                    "max_concurrency": 100,
                    "default_timeout": 10,
                    "attempt_timeout": 0.5,
                }
            },
            "circuit_breaker": {
                "failure_threshold": 3,
                "window_s": 60,
                "reset_timeout_s": 2,
                "half_open_max": 1,
            },
        }
    )
    sent: list[tuple[str, float]] = []
    runtime = build_runtime(
        config,
        {"up": OpenAICompatibleProvider("up", base_url=mock_url + "/v1", transport=RecordingTransport(sent))},
    )
    transitions: list[Transition] = []
    runtime.chat.breakers.listeners.append(transitions.append)
    server = UvicornThread(create_app(runtime)).start()
    try:
        started = time.perf_counter()
        latencies, failures = asyncio.run(drive(server.url, args.requests, args.concurrency))
        elapsed = time.perf_counter() - started
        arrivals = httpx.get(mock_url + "/_mock/arrivals").json()
    finally:
        server.stop()
        mock.stop()

    intervals = open_intervals(transitions, "up/primary", time.monotonic())
    primary = [t for model, t in sent if model == "primary"]
    while_open = [t for t in primary if any(a < t < b for a, b in intervals)]
    arrived = sum(1 for model, _ in arrivals if model == "primary")
    results = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "primary_failure_rate": 0.3,
        "success_rate": (args.requests - len(failures)) / args.requests,
        "failures": failures[:20],
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "requests_per_s": args.requests / elapsed,
        "primary_calls_sent": len(primary),
        "primary_calls_arrived": arrived,
        "fallback_calls": sum(1 for model, _ in arrivals if model == "fallback"),
        "breaker_opened": sum(1 for t in transitions if t.to_state is CircuitState.open),
        "primary_calls_while_open": len(while_open),
        "targets": {"success_rate": 1.0, "primary_calls_while_open": 0},
    }
    path = write_results("chaos", results)
    for key in (
        "success_rate",
        "p50_ms",
        "p99_ms",
        "requests_per_s",
        "primary_calls_sent",
        "fallback_calls",
        "breaker_opened",
        "primary_calls_while_open",
    ):
        print(
            f"{key:<28}{results[key]:>12.4f}"
            if isinstance(results[key], float)
            else f"{key:<28}{results[key]:>12}"
        )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
