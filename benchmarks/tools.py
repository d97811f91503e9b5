"""What a streamed tool call costs through the gateway: OpenAI→OpenAI and OpenAI→Anthropic.

    python benchmarks/tools.py [--requests 200]

One mock upstream process (sluicegate.testing.mock_upstream) plays a model that calls a tool with
small arguments (one piece) and one with long ones (about 290 pieces of 7 characters). Each is
streamed at concurrency 1 directly from the mock (its OpenAI and its Anthropic endpoint) and
through one gateway process (inline guardrails off, so every piece is passed on as it came; and
on, which holds the arguments until the answer ends and scans them). Medians of alternating rounds:

- added latency: gateway minus direct, the small call, to the last byte;
- per piece: the slope between the long and the small call, gateway minus direct.

Then the embedded model's tool-choice accuracy on a small labelled set (`tool_choice.py`).
`--part latency` or `--part accuracy` runs one and keeps the other's last results.

Writes benchmarks/results/tools.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import RESULTS, start_mock, write_results
from tool_choice import EMBEDDED, measure

from sluicegate.testing.processes import GatewayProcess
from sluicegate.testing.threads import free_port

LONG_TEXT = "x" * 2000
MODELS = {
    "small": [{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}],
    "long": [{"tool_calls": [{"name": "get_weather", "arguments": {"city": LONG_TEXT}}]}],
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
OFF = {"pii": "off", "competitors": "off", "profanity": "off"}


def openai_body(model: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": "weather?"}]
    return {"model": model, "stream": True, "messages": messages, "tools": TOOLS}


def anthropic_body(model: str) -> dict[str, Any]:
    tools = [{"name": "get_weather", "input_schema": TOOLS[0]["function"]["parameters"]}]  # type: ignore[index]
    return {
        "model": model,
        "stream": True,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": tools,
    }


def timed(client: httpx.Client, url: str, body: dict[str, Any], count: int) -> float:
    """Median ms to the last byte of a streamed answer."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        with client.stream("POST", url, json=body) as response:
            for _ in response.iter_bytes():
                pass
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part", choices=["latency", "accuracy", "all"], default="all")
    args = parser.parse_args()
    previous = RESULTS / "tools.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    if args.part in ("latency", "all"):
        results.update(latency(args.requests, args.rounds))
    if args.part in ("accuracy", "all"):
        results["embedded_tool_choice"] = accuracy()
    print(write_results("tools", results))
    for key, value in results.items():
        print(key, value)


def accuracy() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-tool-choice-"))
    gateway = GatewayProcess(EMBEDDED, workdir, port=free_port())
    try:
        return measure(gateway.url)
    finally:
        gateway.stop()


def latency(requests: int, rounds: int) -> dict[str, Any]:
    mock, mock_url = start_mock(MODELS)
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-tools-"))
    gateways = {}
    try:
        for label, inline in (("guard_off", OFF), ("guard_on", {})):
            config = {
                "providers": {
                    "up": {"type": "openai", "base_url": mock_url + "/v1", "models": list(MODELS)},
                    "claude": {"type": "anthropic", "base_url": mock_url, "models": list(MODELS)},
                },
                "models": {
                    f"{w}-{m}": {"use": [f"{p}/{m}"]}
                    for w, p in (("openai", "up"), ("anthropic", "claude"))
                    for m in MODELS
                },
                "cache": {"enabled": False},
                "guardrails": {"inline": inline},
                "server": {"log_level": "warning"},
            }
            (workdir / label).mkdir()
            gateways[label] = GatewayProcess(config, workdir / label, port=free_port())
        runs: dict[str, list[float]] = {}
        with httpx.Client(timeout=30) as client:
            targets = {
                "direct_openai": lambda m: (mock_url + "/v1/chat/completions", openai_body(m)),
                "direct_anthropic": lambda m: (mock_url + "/v1/messages", anthropic_body(m)),
            }
            for label, gateway in gateways.items():
                for wire in ("openai", "anthropic"):
                    targets[f"{label}_{wire}"] = lambda m, g=gateway, w=wire: (
                        g.url + "/v1/chat/completions",
                        openai_body(f"{w}-{m}"),
                    )
            for round_number in range(rounds):
                order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                for name in order:
                    for model in MODELS:
                        url, body = targets[name](model)
                        timed(client, url, body, 10)  # warm
                        runs.setdefault(f"{name}/{model}", []).append(timed(client, url, body, requests))
    finally:
        for gateway in gateways.values():
            gateway.stop()
        mock.stop()
    medians = {key: round(statistics.median(values), 3) for key, values in runs.items()}
    pieces = len(LONG_TEXT) // 7
    results: dict[str, Any] = {"median_ms": medians, "pieces_in_long_call": pieces}
    for label in gateways:
        for wire in ("openai", "anthropic"):
            direct = f"direct_{wire}"
            through = f"{label}_{wire}"
            slope = (medians[f"{through}/long"] - medians[f"{through}/small"]) - (
                medians[f"{direct}/long"] - medians[f"{direct}/small"]
            )
            results[f"openai_to_{wire}_{label}"] = {
                "added_ms": round(medians[f"{through}/small"] - medians[f"{direct}/small"], 3),
                "added_per_piece_us": round(slope / pieces * 1000, 2),
            }
    results["settings"] = {"requests": requests, "rounds": rounds}
    return results


if __name__ == "__main__":
    main()
