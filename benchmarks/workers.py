"""`sluicegate serve --workers N`: how throughput scales with worker processes on this machine.

    python benchmarks/workers.py [--workers 1 2 4] [--requests 3000] [--rounds 2]

The fast mock upstream and the lean load client (as in compare.py), sluicegate without guardrails
or budgets, its state in a throwaway Redis (several workers need a shared store); for each worker
count, in alternating rounds: requests/s and p50/p99 at concurrency 50, p50 at concurrency 1, and
the CPU the gateway's processes used per request. Unpinned: with N workers the gateway may use
every core, and so may the upstream and the load client, which share the machine with it.
Writes benchmarks/results/workers.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

import uvloop
from compare import sluicegate_config
from gateway_measures import body, call, cpu_seconds, start_upstream
from harness import write_results
from load_client import drive

from sluicegate.testing.processes import GatewayProcess
from sluicegate.testing.servers import redis_server


async def measure(url: str, requests: int, pid: int) -> dict[str, float]:
    plain = call(body(), "total")
    await drive(url, plain, 500, 10)  # warm every worker
    c1 = await drive(url, plain, requests // 5, 1)
    before = cpu_seconds(pid)
    c50 = await drive(url, plain, requests, 50)
    return {
        "c1_p50_ms": c1["p50_ms"],
        "c50_rps": c50["rps"],
        "c50_p50_ms": c50["p50_ms"],
        "c50_p99_ms": c50["p99_ms"],
        "cpu_us_per_request": (cpu_seconds(pid) - before) / max(c50["n"], 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-workers-"))
    upstream, upstream_url = start_upstream(workdir)
    runs: dict[int, list[dict[str, float]]] = {count: [] for count in args.workers}
    try:
        with redis_server() as redis_url:
            for round_index in range(args.rounds):
                order = args.workers if round_index % 2 == 0 else list(reversed(args.workers))
                for count in order:
                    config = sluicegate_config(upstream_url, guarded=False)
                    config["state"] = {"backend": "redis", "url": redis_url}
                    config["audit"] = {"path": str(workdir / f"audit-{count}.db")}
                    folder = workdir / f"workers-{count}-{round_index}"
                    folder.mkdir()
                    gateway = GatewayProcess(config, folder, args=("--workers", str(count)))
                    try:
                        print(f"round {round_index + 1}/{args.rounds}: {count} worker(s)", flush=True)
                        result = uvloop.run(measure(gateway.url + "/v1", args.requests, gateway.process.pid))
                        runs[count].append(result)
                    finally:
                        gateway.stop()
    finally:
        upstream.stop()
    results: dict[str, Any] = {
        str(count): {key: round(statistics.median(run[key] for run in each), 3) for key in each[0]}
        for count, each in runs.items()
    }
    one = results[str(args.workers[0])]["c50_rps"]
    for count in args.workers:
        results[str(count)]["speedup_over_first"] = round(results[str(count)]["c50_rps"] / one, 2)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    results["settings"] = {"workers": args.workers, "requests": args.requests, "rounds": args.rounds}
    print(results)
    print(write_results("workers", results))


if __name__ == "__main__":
    main()
