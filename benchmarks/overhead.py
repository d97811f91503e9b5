"""Added latency and throughput of the gateway over a direct call to a fast mock upstream.

    python benchmarks/overhead.py [--requests 300] [--rounds 3]

The mock (benchmarks/fast_upstream.py) and the load client (benchmarks/load_client.py) cost a few
tens of microseconds a request, so what is measured is the gateway. Measured, for a direct call
and through sluicegate (one worker, an `openai` provider, the default pipeline: SQLite state and
audit, inline guardrails, metrics): p50/p99 latency at concurrency 1 (non-stream, and stream time
to first token), requests/s and p99 at concurrency 50, per-chunk streaming cost. Rounds alternate
direct and gateway (A B A B) and keep the medians. Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from gateway_measures import added_over, measure, median_of, start_upstream
from harness import write_results

from sluicegate.testing.processes import GatewayProcess

TARGET_ADDED_P50_MS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-overhead-"))
    upstream, upstream_url = start_upstream(workdir)
    config = {
        "providers": {"up": {"type": "openai", "base_url": upstream_url + "/v1", "models": ["m"]}},
        "models": {"m": {"use": ["up/m"], "max_concurrency": 1000, "max_queue": 1000}},
        "server": {"log_level": "warning"},
    }
    gateway = GatewayProcess(config, workdir)
    try:
        targets = {"direct": upstream_url + "/v1", "gateway": gateway.url + "/v1"}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                runs[name].append(uvloop.run(measure(url, {}, args.requests, args.concurrency)))
                time.sleep(2)  # the gateway's audit writes after a burst finish before the next run
    finally:
        gateway.stop()
        upstream.stop()

    direct, through = median_of(runs["direct"]), median_of(runs["gateway"])
    added = added_over(direct, through)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "target": {"c1_nonstream_added_p50_ms_below": TARGET_ADDED_P50_MS},
        "met": added["c1_nonstream_p50_ms"] < TARGET_ADDED_P50_MS,
        "direct": direct,
        "gateway": through,
        "added": added,
        "gateway_c50_rps": through["c50_nonstream"]["rps"],
        "direct_c50_rps": direct["c50_nonstream"]["rps"],
        "settings": {"rounds": args.rounds, "requests_c1": args.requests, "concurrency": args.concurrency},
    }
    path = write_results("overhead", results)
    print(f"{'measure':<30}{'direct':>10}{'gateway':>10}{'added':>10}")
    rows = [
        ("c=1 non-stream p50 ms", "c1_nonstream", "p50_ms"),
        ("c=1 non-stream p99 ms", "c1_nonstream", "p99_ms"),
        ("c=1 stream TTFT p50 ms", "c1_stream_ttft", "p50_ms"),
        ("c=50 p99 ms", "c50_nonstream", "p99_ms"),
        ("c=50 requests/s", "c50_nonstream", "rps"),
    ]
    for label, key, stat in rows:
        d, g = direct[key][stat], through[key][stat]
        print(f"{label:<30}{d:>10.2f}{g:>10.2f}{g - d:>10.2f}")
    d, g = direct["stream_per_chunk_us"], through["stream_per_chunk_us"]
    print(f"{'stream per chunk µs':<30}{d:>10.1f}{g:>10.1f}{g - d:>10.1f}")
    verdict = "met" if results["met"] else "NOT met"
    print(f"target: added c=1 p50 < {TARGET_ADDED_P50_MS} ms: {verdict}; written to {path}")


if __name__ == "__main__":
    main()
