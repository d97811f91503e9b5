"""sluicegate side by side with LiteLLM and Portkey, on one machine, in one run.

    python benchmarks/compare.py [--rounds 3] [--requests 300] [--no-profile] [--base REV]

One fast mock OpenAI upstream (benchmarks/fast_upstream.py) serves the gateways, each with one
worker: sluicegate (no cache, no guardrails), LiteLLM 1.106.2 (installed by this script into
benchmarks/.cache/litellm-venv, never a dependency of ours; offline cost map, master key from the
environment), Portkey's open-source gateway 1.15.2 (Node; installed from npm into
benchmarks/.cache/portkey, likewise never ours; the upstream named per request in its
`x-portkey-custom-host` header) and sluicegate with inline guardrails and per-user budgets on.
For each, and for the mock called directly: latency at concurrency 1 (non-stream; stream time to
first token), requests/s, p99 and CPU time per request at concurrency 50, per-chunk streaming
overhead (the slope between a 10-chunk and a 210-chunk stream), idle and peak RSS. A gateway whose
streams fail (Portkey 1.15.2 on Node 20 answers them with an error) is reported so, without
streamed figures. Rounds alternate the targets (A B C D, then D C B A) and the medians are kept.

On a machine with two cores or more, the gateway measured runs alone on the first core, and the
mock upstream and the load client on the second: the CPU a gateway is measured with is its own.
py-spy profiles of sluicegate (plain and guarded) under load are summarised in the results.

With `--base REV`, sluicegate as it was at commit REV is served beside the working tree (its `src/`
unpacked with `git archive`, first on PYTHONPATH), plain and guarded, in the same rounds: what a
change to the request path cost or saved, with LiteLLM's ratios for both.

Writes benchmarks/results/compare.json and benchmarks/results/compare.md (the README's table).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop
from compare_report import PERFORMANCE_TARGETS, TARGETS, markdown, ratios
from gateway_measures import (
    Server,
    added_over,
    body,
    call,
    descendants,
    measure,
    median_of,
    pin,
    start_upstream,
)
from harness import RESULTS, write_results
from load_client import drive
from peers import (
    LITELLM_VERSION,
    MASTER_KEY_ENV,
    PORTKEY_VERSION,
    ensure_litellm,
    ensure_portkey,
    start_litellm,
    start_portkey,
)

from sluicegate.testing.processes import GatewayProcess

GATEWAY_CPUS, LOAD_CPUS = {0}, {1}
SETTLE_S = 3.0
WARM_REQUESTS = 1000


# ---------------------------------------------------------------- processes


def unpack_source(revision: str, into: Path) -> tuple[str, Path]:
    """`src/` of the commit `revision` under `into`; returns the short hash and the folder."""
    root = Path(__file__).resolve().parent.parent
    short = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", short, "src"], cwd=root, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return short, into / "src"


def sluicegate_config(upstream: str, *, guarded: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "providers": {"up": {"type": "openai", "base_url": upstream + "/v1", "models": ["m"]}},
        # The role is named like LiteLLM's model, so one request body serves every target.
        "models": {"m": {"use": ["up/m"], "max_concurrency": 1000, "max_queue": 1000}},
        "cache": {"enabled": False},
        "server": {"log_level": "warning"},
    }
    if guarded:
        config["budgets"] = {"tokens_per_hour_per_user": 10**12}
    else:
        config["guardrails"] = {"inline": {"pii": "off", "competitors": "off", "profanity": "off"}}
    return config


def memory_kib(pid: int) -> dict[str, int]:
    """RSS now and at its peak (VmHWM), summed over the process and its descendants."""
    totals = {"rss_kib": 0, "peak_rss_kib": 0}
    for each in [pid, *descendants(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                totals["rss_kib"] += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                totals["peak_rss_kib"] += int(line.split()[1])
    return totals


def pause_all_but(running: int, gateways: list[int]) -> None:
    """SIGSTOP every gateway but the one measured: no background work of one lands on another's
    numbers (the upstream and the load client always run)."""
    for pid in gateways:
        signal_tree(pid, signal.SIGCONT if pid == running else signal.SIGSTOP)


def signal_tree(pid: int, signum: int) -> None:
    for each in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signum)


# ---------------------------------------------------------------- profile


def profile(pid: int, url: str, headers: dict[str, str], seconds: int, workdir: Path) -> dict[str, Any]:
    """py-spy on the gateway while it serves concurrency 50: where its CPU goes."""
    out = workdir / "profile.txt"
    beside = Path(sys.executable).parent / "py-spy"
    try:
        spy = subprocess.Popen(
            [
                str(beside) if beside.exists() else "py-spy",
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return {"skipped": "py-spy is not installed (pip install -e '.[bench]')"}
    deadline = time.monotonic() + seconds

    async def load() -> None:
        plain = call(body(), "total")
        while time.monotonic() < deadline:
            await drive(url, plain, 500, 50, headers)

    uvloop.run(load())
    spy.wait(60)
    if not out.exists():
        return {"skipped": "py-spy wrote nothing (ptrace not permitted?)"}
    return summarise_profile(out.read_text())


def summarise_profile(raw: str) -> dict[str, Any]:
    """Self time by function and inclusive time by package, as shares of all samples."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for package in {package_of(frame) for frame in frames}:
            packages[package] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "self_top": [{"frame": f, "share": round(n / total, 4)} for f, n in own.most_common(15)],
        "inclusive_by_package": {p: round(n / total, 4) for p, n in packages.most_common(15)},
    }


def package_of(frame: str) -> str:
    """`send (httpcore/_async/http11.py:12)` -> `httpcore`; py-spy names files from their package."""
    location = frame.rpartition("(")[2].rstrip(")")
    path = location.rpartition(":")[0]
    if "site-packages/" in path:
        path = path.split("site-packages/")[1]
    parts = Path(path).parts
    if not parts:
        return "?"
    return parts[0].removesuffix(".py") if not parts[0].startswith("/") else parts[-1].removesuffix(".py")


# ---------------------------------------------------------------- main


Targets = dict[str, tuple[str, dict[str, str], int]]  # name -> (base URL, headers, pid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--profile-seconds", type=int, default=10)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--base", help="also serve sluicegate as it was at this commit")
    args = parser.parse_args()

    litellm, portkey_script = ensure_litellm(), ensure_portkey()
    pinned = (os.cpu_count() or 1) >= 2
    if pinned:
        os.sched_setaffinity(0, LOAD_CPUS)  # the load client (this process)
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-compare-"))
    servers: list[Any] = []
    try:
        targets, base = start_targets(servers, workdir, litellm, portkey_script, args.base)
        if pinned:
            for name, (_, _, pid) in targets.items():
                pin(pid, LOAD_CPUS if name == "direct" else GATEWAY_CPUS)
        results = run_rounds(targets, args)
        if not args.no_profile:
            gateways = [pid for name, (_, _, pid) in targets.items() if name != "direct"]
            for name in ("sluicegate", "sluicegate_guarded"):
                url, headers, pid = targets[name]
                pause_all_but(pid, gateways)
                results[f"profile_{name}_c50"] = profile(pid, url, headers, args.profile_seconds, workdir)
    finally:
        for server in reversed(servers):
            # A stopped process acts on SIGTERM only once continued.
            signal_tree(server.pid if isinstance(server, Server) else server.process.pid, signal.SIGCONT)
            server.stop()

    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    results["settings"] = {
        "rounds": args.rounds,
        "requests_c1": args.requests,
        "requests_c50": args.requests * 5,
        "concurrency": args.concurrency,
        "litellm": LITELLM_VERSION,
        "portkey": PORTKEY_VERSION,
        "pinned": {"gateway_cpus": sorted(GATEWAY_CPUS), "load_cpus": sorted(LOAD_CPUS)} if pinned else None,
        "targets": TARGETS,
        "performance_targets": PERFORMANCE_TARGETS,
        "base": base,
    }
    path = write_results("compare", results)
    table = markdown(results)
    (RESULTS / "compare.md").write_text(table)
    print(table)
    print(f"written to {path} and {RESULTS / 'compare.md'}")


def start_targets(
    servers: list[Any], workdir: Path, litellm: Path, portkey_script: Path, base_revision: str | None
) -> tuple[Targets, str | None]:
    """The mock upstream and every gateway, started (each appended to `servers` to be stopped)."""
    upstream, upstream_url = start_upstream(workdir)
    servers.append(upstream)
    lite, lite_url = start_litellm(litellm, upstream_url, workdir)
    servers.append(lite)
    portkey, portkey_url, portkey_headers = start_portkey(portkey_script, upstream_url, workdir)
    servers.append(portkey)
    plain = GatewayProcess(sluicegate_config(upstream_url, guarded=False), workdir)
    servers.append(plain)
    guarded = GatewayProcess(sluicegate_config(upstream_url, guarded=True), workdir)
    servers.append(guarded)
    master_key = os.environ.get(MASTER_KEY_ENV, "sk-bench-master")
    targets: Targets = {
        "direct": (upstream_url + "/v1", {}, upstream.pid),
        "sluicegate": (plain.url + "/v1", {}, plain.process.pid),
        "litellm": (lite_url + "/v1", {"authorization": f"Bearer {master_key}"}, lite.pid),
        "portkey": (portkey_url + "/v1", portkey_headers, portkey.pid),
        "sluicegate_guarded": (guarded.url + "/v1", {}, guarded.process.pid),
    }
    if base_revision is None:
        return targets, None
    base, old_src = unpack_source(base_revision, workdir / "base")
    for name, guard in (("sluicegate_before", False), ("sluicegate_guarded_before", True)):
        folder = workdir / name
        folder.mkdir()
        old = GatewayProcess(
            sluicegate_config(upstream_url, guarded=guard), folder, env={"PYTHONPATH": str(old_src)}
        )
        servers.append(old)
        targets[name] = (old.url + "/v1", {}, old.process.pid)
    return targets, base


def run_rounds(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    """Every target measured in alternating rounds, alone (the others paused); the medians, what
    each adds over the direct call, memory, and the ratios."""
    idle: dict[str, dict[str, int]] = {}
    for name, (url, headers, pid) in targets.items():
        uvloop.run(drive(url, call(body(), "total"), 5, 1, headers))
        idle[name] = memory_kib(pid)
        # Then warmed well: a JIT (Node's V8, for Portkey) optimises only code that ran often.
        uvloop.run(drive(url, call(body(), "total"), WARM_REQUESTS, 10, headers))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    order = list(targets)
    gateways = [pid for name, (_, _, pid) in targets.items() if name != "direct"]
    for round_index in range(args.rounds):
        for name in order if round_index % 2 == 0 else reversed(order):
            url, headers, pid = targets[name]
            pause_all_but(pid, gateways)
            print(f"round {round_index + 1}/{args.rounds}: {name}", flush=True)
            runs[name].append(uvloop.run(measure(url, headers, args.requests, args.concurrency, pid=pid)))
            # Let background work (audit writes after a burst) finish before the pause, or it
            # would land on this target's next c=1 run.
            time.sleep(SETTLE_S)
    for pid in gateways:
        signal_tree(pid, signal.SIGCONT)
    results: dict[str, Any] = {name: median_of(runs[name]) for name in targets}
    for name, (_, _, pid) in targets.items():
        results[name]["memory"] = {
            "idle_rss_kib": idle[name]["rss_kib"],
            "peak_rss_kib": memory_kib(pid)["peak_rss_kib"],
        }
        if name != "direct":
            results[name]["added"] = added_over(results["direct"], results[name])
    results["ratios"] = ratios(results)
    return results


if __name__ == "__main__":
    main()
