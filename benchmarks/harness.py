"""What the benchmarks share: start servers as separate processes, drive load, summarise."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from sluicegate.testing.processes import GatewayProcess

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Process:
    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def first_line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_mock(models: dict[str, Any]) -> tuple[Process, str]:
    script = Path(tempfile.mkdtemp()) / "script.yaml"
    script.write_text(yaml.safe_dump({"models": models}))
    process = Process([sys.executable, "-m", "sluicegate.testing.mock_upstream", "--script", str(script)])
    return process, process.first_line()


def start_gateway(config: dict[str, Any], port: int) -> GatewayProcess:
    config = {**config, "server": {**config.get("server", {}), "log_level": "warning"}}
    return GatewayProcess(config, Path(tempfile.mkdtemp()), port=port)


async def run_load(call: Callable[[], Awaitable[float]], total: int, concurrency: int) -> dict[str, float]:
    """`total` calls with `concurrency` in flight; latencies in ms and requests per second."""
    latencies: list[float] = []
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            latencies.append(await call())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
        "rps": total / elapsed,
        "n": float(total),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
