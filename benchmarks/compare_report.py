"""What compare.py reports: the ratios against LiteLLM, issue #20's targets, and the table."""

from __future__ import annotations

from typing import Any

from peers import LITELLM_VERSION, PORTKEY_VERSION

TARGETS = {
    "added_latency_ratio_max": 0.2,  # sluicegate's added latency ≤ 1/5 of LiteLLM's
    "throughput_ratio_min": 3.0,
    "idle_rss_ratio_max": 1 / 3,
    "guarded_throughput_ratio_min": 2.0,
}
# Issue #20, measured in the same run against Portkey.
PERFORMANCE_TARGETS = {
    "added_p50_ms_max": 0.5,  # at c=1, no guardrails, no budgets
    "guarded_added_p50_ms_max": 0.8,  # with the default guardrails and budgets on
    "cpu_us_per_request_max": 350.0,  # at c=50, no guardrails, no budgets
    "throughput_over_portkey_min": 2.0,
    "guarded_throughput_over_portkey_min": 1.0,  # guarded against Portkey bare
    "guarded_per_chunk_us_max": 20.0,  # added per streamed chunk, inline guardrails on
    "c50_p99_ms_max": 88.0,  # no worse than the figure for today
}


def rps(side: dict[str, Any]) -> float:
    return float(side["c50_nonstream"]["rps"])


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    sg, lite, guarded = results["sluicegate"], results["litellm"], results["sluicegate_guarded"]
    found: dict[str, Any] = {
        "added_latency_ratio": sg["added"]["c1_nonstream_p50_ms"] / lite["added"]["c1_nonstream_p50_ms"],
        "added_ttft_ratio": sg["added"]["c1_stream_ttft_p50_ms"] / lite["added"]["c1_stream_ttft_p50_ms"],
        "throughput_ratio": rps(sg) / rps(lite),
        "idle_rss_ratio": sg["memory"]["idle_rss_kib"] / lite["memory"]["idle_rss_kib"],
        "guarded_throughput_ratio": rps(guarded) / rps(lite),
        "per_chunk_ratio": sg["added"]["stream_per_chunk_us"]
        / max(lite["added"]["stream_per_chunk_us"], 1e-9),
    }
    if "sluicegate_before" in results:
        before, guarded_before = results["sluicegate_before"], results["sluicegate_guarded_before"]
        found["after_over_before"] = {
            "added_latency": sg["added"]["c1_nonstream_p50_ms"] / before["added"]["c1_nonstream_p50_ms"],
            "throughput": rps(sg) / rps(before),
            "guarded_added_latency": guarded["added"]["c1_nonstream_p50_ms"]
            / guarded_before["added"]["c1_nonstream_p50_ms"],
            "guarded_throughput": rps(guarded) / rps(guarded_before),
            "before_added_latency_ratio_to_litellm": before["added"]["c1_nonstream_p50_ms"]
            / lite["added"]["c1_nonstream_p50_ms"],
            "before_throughput_ratio_to_litellm": rps(before) / rps(lite),
        }
    found["met"] = {
        "added_latency": found["added_latency_ratio"] <= TARGETS["added_latency_ratio_max"],
        "throughput": found["throughput_ratio"] >= TARGETS["throughput_ratio_min"],
        "idle_rss": found["idle_rss_ratio"] <= TARGETS["idle_rss_ratio_max"],
        "guarded_throughput": found["guarded_throughput_ratio"] >= TARGETS["guarded_throughput_ratio_min"],
    }
    if "portkey" in results:
        found["performance"] = performance(results)
    return found


def performance(results: dict[str, Any]) -> dict[str, Any]:
    """Issue #20's targets: each figure, its bound, and whether it is met."""
    sg, guarded, portkey = results["sluicegate"], results["sluicegate_guarded"], results["portkey"]
    targets = PERFORMANCE_TARGETS
    figures = {
        "added_p50_ms": (sg["added"]["c1_nonstream_p50_ms"], targets["added_p50_ms_max"], "max"),
        "guarded_added_p50_ms": (
            guarded["added"]["c1_nonstream_p50_ms"],
            targets["guarded_added_p50_ms_max"],
            "max",
        ),
        "cpu_us_per_request": (
            sg["c50_nonstream"]["cpu_us_per_request"],
            targets["cpu_us_per_request_max"],
            "max",
        ),
        "throughput_over_portkey": (rps(sg) / rps(portkey), targets["throughput_over_portkey_min"], "min"),
        "guarded_throughput_over_portkey": (
            rps(guarded) / rps(portkey),
            targets["guarded_throughput_over_portkey_min"],
            "min",
        ),
        "guarded_per_chunk_us": (
            guarded["added"]["stream_per_chunk_us"],
            targets["guarded_per_chunk_us_max"],
            "max",
        ),
        "c50_p99_ms": (sg["c50_nonstream"]["p99_ms"], targets["c50_p99_ms_max"], "max"),
    }
    return {
        name: {"value": value, "bound": bound, "met": value <= bound if kind == "max" else value >= bound}
        for name, (value, bound, kind) in figures.items()
    }


def markdown(results: dict[str, Any]) -> str:
    names = [
        ("direct", "mock upstream, direct"),
        ("sluicegate", "sluicegate"),
        ("sluicegate_guarded", "sluicegate + guardrails + budgets"),
        ("portkey", f"Portkey {PORTKEY_VERSION}"),
        ("litellm", f"LiteLLM {LITELLM_VERSION}"),
    ]
    lines = [
        "| | c=1 p50 ms (added) | c=1 p99 ms | c=1 TTFT p50 ms (added) | c=50 req/s | c=50 p99 ms "
        "| CPU µs/req | per chunk µs (added) | idle RSS MiB | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = results.get("settings", {}).get("base")
    if base:
        names.insert(2, ("sluicegate_before", f"sluicegate at {base}"))
        names.insert(4, ("sluicegate_guarded_before", f"sluicegate + guardrails + budgets at {base}"))
    for key, label in names:
        if key not in results:
            continue
        side = results[key]
        added = side.get("added", {})
        memory = side.get("memory", {})

        def with_added(value: float | None, extra: float | None, unit: str = ".2f") -> str:
            if value is None:
                return "broken"
            return f"{value:{unit}}" + (f" (+{extra:{unit}})" if extra is not None else "")

        ttft = side.get("c1_stream_ttft")
        cpu = side["c50_nonstream"].get("cpu_us_per_request")
        lines.append(
            f"| {label} "
            f"| {with_added(side['c1_nonstream']['p50_ms'], added.get('c1_nonstream_p50_ms'))} "
            f"| {side['c1_nonstream']['p99_ms']:.2f} "
            f"| {with_added(ttft and ttft['p50_ms'], added.get('c1_stream_ttft_p50_ms'))} "
            f"| {side['c50_nonstream']['rps']:.0f} | {side['c50_nonstream']['p99_ms']:.1f} "
            f"| {'' if cpu is None else f'{cpu:.0f}'} "
            f"| {with_added(side.get('stream_per_chunk_us'), added.get('stream_per_chunk_us'), '.1f')} "
            f"| {memory.get('idle_rss_kib', 0) / 1024:.0f} | {memory.get('peak_rss_kib', 0) / 1024:.0f} |"
        )
    found = results["ratios"]
    met = found["met"]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines += [
        "",
        f"Ratios (same run): added latency {found['added_latency_ratio']:.2f}x LiteLLM's (target ≤ 0.20, "
        f"{mark(met['added_latency'])}); throughput {found['throughput_ratio']:.1f}x (target ≥ 3, "
        f"{mark(met['throughput'])}); idle RSS {found['idle_rss_ratio']:.2f}x (target ≤ 0.33, "
        f"{mark(met['idle_rss'])}); with guardrails and budgets {found['guarded_throughput_ratio']:.1f}x "
        f"(target ≥ 2, {mark(met['guarded_throughput'])}).",
    ]
    if "performance" in found:
        labels = {
            "added_p50_ms": "added p50 at c=1, bare (ms)",
            "guarded_added_p50_ms": "added p50 at c=1, guardrails and budgets (ms)",
            "cpu_us_per_request": "CPU per request at c=50, bare (µs)",
            "throughput_over_portkey": "throughput over Portkey's, bare",
            "guarded_throughput_over_portkey": "throughput with guardrails and budgets over Portkey's bare",
            "guarded_per_chunk_us": "added per streamed chunk, guardrails on (µs)",
            "c50_p99_ms": "p99 at c=50, bare (ms)",
        }
        lines += ["", "| #20 target | measured | bound | |", "| --- | --- | --- | --- |"]
        for name, figure in found["performance"].items():
            lines.append(
                f"| {labels[name]} | {figure['value']:.2f} | {figure['bound']:g} | {mark(figure['met'])} |"
            )
    change = found.get("after_over_before")
    if change:
        lines += [
            "",
            f"Against {base} in the same run: added latency {change['added_latency']:.2f}x, throughput "
            f"{change['throughput']:.2f}x; with guardrails and budgets "
            f"{change['guarded_added_latency']:.2f}x and {change['guarded_throughput']:.2f}x.",
        ]
    return "\n".join(lines) + "\n"
