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
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvloop
from harness import percentile, start_mock, write_results
from load_client import Connection, Reply

from sluicegate.config.schema import Config
from sluicegate.providers.base import Provider
from sluicegate.providers.openai_compat import OpenAICompatibleProvider
from sluicegate.resilience.breaker import CircuitState, Transition
from sluicegate.resilience.wrapper import WrapperProvider
from sluicegate.runtime import build_runtime
from sluicegate.server import create_app
from sluicegate.testing.threads import UvicornThread
from sluicegate.types import Chunk, Completion, CompletionRequest

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


class RecordingProvider(WrapperProvider):
    """Notes which model each upstream call is for, and when it left the gateway."""

    def __init__(self, inner: Provider, sent: list[tuple[str, float]]) -> None:
        super().__init__(inner)
        self.sent = sent

    async def generate(self, request: CompletionRequest) -> Completion:
        self.sent.append((request.model, time.monotonic()))
        return await super().generate(request)

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        self.sent.append((request.model, time.monotonic()))
        return super().stream(request)


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
    """The load, from the lean client: an httpx client in this process would take the GIL from the
    gateway thread for its own connection pool and measure itself."""
    latencies: list[float] = []
    failures: list[str] = []
    remaining = iter(range(total))

    async def worker() -> None:
        connection = Connection(url)
        try:
            for index in remaining:
                stream = index % 2 == 0
                body = {
                    "model": "assistant",
                    "stream": stream,
                    "messages": [{"role": "user", "content": f"question {index}"}],
                }
                started = time.perf_counter()
                try:
                    reply = await connection.post("/v1/chat/completions", json.dumps(body).encode())
                    text = answer_text(reply, stream)
                    if text != ANSWER:
                        failures.append(f"wrong text: {text[:60]!r}")
                except (OSError, ValueError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:120])
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


def answer_text(reply: Reply, stream: bool) -> str:
    if reply.status != 200:
        raise ValueError(f"status {reply.status}")
    if not stream:
        return str(json.loads(reply.body)["choices"][0]["message"]["content"])
    parts: list[str] = []
    for line in reply.body.decode().splitlines():
        if line.startswith("data: {"):
            data = json.loads(line[6:])
            if "error" in data:
                raise ValueError(data["error"]["message"])
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
        {"up": RecordingProvider(OpenAICompatibleProvider("up", base_url=mock_url + "/v1"), sent)},
    )
    transitions: list[Transition] = []
    runtime.stacks.breakers.listeners.append(transitions.append)
    server = UvicornThread(create_app(runtime)).start()
    try:
        started = time.perf_counter()
        latencies, failures = uvloop.run(drive(server.url, args.requests, args.concurrency))
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
