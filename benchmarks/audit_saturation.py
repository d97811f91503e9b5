"""Whether the audit trail keeps up with a saturated core: every event written, none dropped.

    python benchmarks/audit_saturation.py [--requests 40000] [--concurrency 100]

sluicegate with guardrails and budgets (about eleven events a request) on the first core with its
audit writer thread, the fast mock upstream and the load client on the second, driven flat out.
The writer is a background thread; where it shares a core with a busy event loop it gets the GIL
back only at the interpreter's switch interval, so how many rows an INSERT carries decides how
many events a second it can write (64 rows an INSERT lost 42 % of this load's events). Writes
benchmarks/results/audit_saturation.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
import uvloop
from compare import sluicegate_config
from gateway_measures import body, call, pin, start_upstream
from harness import write_results
from load_client import drive

from sluicegate.testing.processes import GatewayProcess


def counter(metrics: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(name + " "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    upstream, upstream_url = start_upstream(work)
    gateway = GatewayProcess(sluicegate_config(upstream_url, guarded=True), work)
    try:
        if (os.cpu_count() or 1) >= 2:
            pin(gateway.process.pid, {0})
            pin(upstream.process.pid, {1})
            os.sched_setaffinity(0, {1})
        started = time.monotonic()
        load = uvloop.run(drive(gateway.url + "/v1", call(body(), "total"), args.requests, args.concurrency))
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # the last batch lingers 50 ms
        metrics = httpx.get(gateway.url + "/metrics").text
        result = {
            "requests": load["n"],
            "errors": load["errors"],
            "rps": load["rps"],
            "seconds": elapsed,
            "events_written": counter(metrics, "sluicegate_audit_events_written_total"),
            "events_dropped": counter(metrics, "sluicegate_audit_events_dropped_total"),
        }
    finally:
        gateway.stop()
        upstream.stop()
    print(result)
    print(write_results("audit_saturation", result))


if __name__ == "__main__":
    main()
