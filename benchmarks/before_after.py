"""The gateway at an earlier commit against the working tree, in one run on one machine: what a
change to the request path cost or saved.

    python benchmarks/before_after.py --base REV [--rounds 3] [--requests 300]

The earlier commit's `src/` is unpacked with `git archive` into a temporary folder and served from
there (PYTHONPATH puts it before the installed package); both gateways get the same config (an
`openai` provider over the fast mock, the default pipeline: SQLite state and audit, inline
guardrails, metrics) and the same measures as benchmarks/overhead.py. Rounds alternate
(direct, before, after, then reversed) and keep the medians. Writes
benchmarks/results/before_after.json.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from gateway_measures import added_over, measure, median_of, start_upstream
from harness import write_results

from sluicegate.testing.processes import GatewayProcess

ROOT = Path(__file__).resolve().parent.parent


def unpack_source(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the earlier commit")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()

    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-before-after-"))
    old_src = unpack_source(base, workdir / "old")
    upstream, upstream_url = start_upstream(workdir)
    config = {
        "providers": {"up": {"type": "openai", "base_url": upstream_url + "/v1", "models": ["m"]}},
        "models": {"m": {"use": ["up/m"], "max_concurrency": 1000, "max_queue": 1000}},
        "server": {"log_level": "warning"},
    }
    (workdir / "before").mkdir()
    (workdir / "after").mkdir()
    before = GatewayProcess(config, workdir / "before", env={"PYTHONPATH": str(old_src)})
    after = GatewayProcess(config, workdir / "after")
    try:
        targets = {"direct": upstream_url + "/v1", "before": before.url + "/v1", "after": after.url + "/v1"}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        order = list(targets)
        for round_number in range(args.rounds):
            for name in order if round_number % 2 == 0 else reversed(order):
                runs[name].append(uvloop.run(measure(targets[name], {}, args.requests, args.concurrency)))
                time.sleep(2)  # the audit writes after a burst finish before the next run
    finally:
        before.stop()
        after.stop()
        upstream.stop()

    direct = median_of(runs["direct"])
    medians = {name: median_of(runs[name]) for name in ("before", "after")}
    added = {name: added_over(direct, medians[name]) for name in medians}
    ratios = {
        "added_c1_p50": round(
            added["after"]["c1_nonstream_p50_ms"] / added["before"]["c1_nonstream_p50_ms"], 3
        ),
        "c50_rps": round(
            medians["after"]["c50_nonstream"]["rps"] / medians["before"]["c50_nonstream"]["rps"], 3
        ),
    }
    results = {
        "base": base,
        "machine": {"cpus": os.cpu_count()},
        "direct": direct,
        "before": medians["before"],
        "after": medians["after"],
        "added": added,
        "after_over_before": ratios,
        "settings": {"rounds": args.rounds, "requests_c1": args.requests, "concurrency": args.concurrency},
    }
    path = write_results("before_after", results)
    print(f"{'measure':<28}{'before':>10}{'after':>10}")
    print(
        f"{'added c=1 p50 ms':<28}{added['before']['c1_nonstream_p50_ms']:>10.3f}"
        f"{added['after']['c1_nonstream_p50_ms']:>10.3f}"
    )
    for label, key, stat in [
        ("c=50 requests/s", "c50_nonstream", "rps"),
        ("c=50 p99 ms", "c50_nonstream", "p99_ms"),
    ]:
        print(f"{label:<28}{medians['before'][key][stat]:>10.1f}{medians['after'][key][stat]:>10.1f}")
    print(f"ratios after/before: {ratios}; written to {path}")


if __name__ == "__main__":
    main()
