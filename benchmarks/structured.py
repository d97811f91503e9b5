"""Structured generation measured: benchmarks/results/structured.json.

    python benchmarks/structured.py [--embedded N]

- The incremental parser's cost per chunk (µs), feeding a 50-element architecture artifact in
  chunks of 4, 16 and 64 characters, against parsing the whole text once at the end.
- First-element latency against waiting for the whole object: the artifact streamed through the
  gateway's pipeline by the scripted provider at a fixed pace (one chunk every 2 ms), from the
  request to the first `element` frame and to `complete`.
- With `--embedded N` (needs the [local] extra): the embedded model on the first N of the 50
  inputs per schema in benchmarks/data/structured_inputs.json — how often the first answer needed
  a reask, how often a later tier was needed, how many ended valid; the other figures in the
  results file are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from harness import RESULTS, write_results

from sluicegate.audit.events import Payload, TierOutcome
from sluicegate.config.schema import Config, embedded_default
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.structured.elements import ElementStream
from sluicegate.structured.schemas import schema_named
from sluicegate.structured.workflow import StructuredRequest, StructuredWorkflow, fitted
from sluicegate.types import CompleteFrame, ElementFrame

ARTIFACT = {
    "framework": "c4",
    "title": "A fifty-element shop",
    "elements": [
        {
            "kind": "component",
            "id": f"c{i}",
            "name": f"Service {i}",
            "technology": "Python",
            "description": "x" * 40,
        }
        for i in range(50)
    ],
    "relations": [{"source": f"c{i}", "target": f"c{i + 1}", "label": "calls"} for i in range(49)],
}
TEXT = json.dumps(ARTIFACT)


def parse_cost() -> dict[str, Any]:
    results: dict[str, Any] = {"text_chars": len(TEXT)}
    for size in (4, 16, 64):
        chunks = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
        runs = []
        for _ in range(20):
            stream = ElementStream()
            started = time.perf_counter()
            found = 0
            for chunk in chunks:
                found += len(stream.feed(chunk))
            runs.append((time.perf_counter() - started) / len(chunks) * 1e6)
        assert found == 99
        results[f"chunk_{size}_chars_us_per_chunk"] = round(statistics.median(runs), 2)
    started = time.perf_counter()
    for _ in range(20):
        json.loads(TEXT)
    results["whole_text_json_loads_us"] = round((time.perf_counter() - started) / 20 * 1e6, 1)
    return results


async def collect(runtime: Runtime, schema: str, text: str, role: str) -> tuple[list[Any], list[Payload]]:
    """The workflow as `POST /v1/generate/{schema}` runs it for this role."""
    events: list[Payload] = []
    workflow = StructuredWorkflow(
        runtime.pipeline, has_role=runtime.stacks.has_role, report=lambda _t, e: events.append(e)
    )
    asked = fitted(
        StructuredRequest(schema_named(schema), text, role, Caller(local=True)), runtime.stacks.resolve(role)
    )
    ctx = RequestContext()
    token = bind(ctx)
    stamped: list[Any] = []
    started = time.perf_counter()
    try:
        async for frame in workflow.run(asked, ctx):
            stamped.append((time.perf_counter() - started, frame))
    finally:
        unbind(token)
    return stamped, events


async def first_element_latency() -> dict[str, Any]:
    script = {"models": {"m": [{"text": TEXT, "chunk_chars": 16, "chunk_delay_s": 0.002}]}}
    runtime = build_runtime(
        Config.model_validate(
            {
                "providers": {"s": {"type": "scripted", "inline": script}},
                "models": {"artist": {"use": ["s/m"]}},
                "state": {"backend": "memory"},
                "audit": {"enabled": False},
            }
        )
    )
    firsts, wholes = [], []
    try:
        for _ in range(5):
            stamped, _ = await collect(runtime, "architecture_artifact", "a shop", "artist")
            firsts.append(next(t for t, f in stamped if isinstance(f, ElementFrame)))
            wholes.append(next(t for t, f in stamped if isinstance(f, CompleteFrame)))
    finally:
        await runtime.aclose()
    return {
        "stream": f"{len(TEXT) // 16 + 1} chunks of 16 characters, one every 2 ms",
        "first_element_ms": round(statistics.median(firsts) * 1000, 1),
        "complete_ms": round(statistics.median(wholes) * 1000, 1),
    }


INPUTS: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "data" / "structured_inputs.json").read_text(encoding="utf-8")
)


async def embedded(count: int) -> dict[str, Any]:
    """The first `count` distinct inputs per schema; each schema's figures are written as soon as
    they are known, so that a long run that is cut short keeps what it measured."""
    default = embedded_default()
    runtime = build_runtime(
        default.model_copy(update={"state": default.state.model_copy(update={"backend": "memory"})})
    )
    results: dict[str, Any] = {}
    try:
        for schema, inputs in INPUTS.items():
            valid = reasked = other_tier = 0
            seconds: list[float] = []
            for text in inputs[:count]:
                stamped, events = await collect(runtime, schema, text, "reasoning")
                llm_tiers = [e for e in events if isinstance(e, TierOutcome) and e.tier != "recipe"]
                valid += isinstance(stamped[-1][1], CompleteFrame)
                reasked += sum(e.answers for e in llm_tiers) > 1
                other_tier += any(e.outcome != "ok" for e in llm_tiers)
                seconds.append(stamped[-1][0])
                last = type(stamped[-1][1]).__name__
                print(f"{schema} {len(seconds)}/{count}: {last} in {seconds[-1]:.1f} s", flush=True)
            measured = len(seconds)
            results[schema] = {
                "inputs": measured,
                "valid": round(valid / measured, 3),
                "reask_rate": round(reasked / measured, 3),
                "needed_another_tier": round(other_tier / measured, 3),
                "seconds_p50": round(statistics.median(seconds), 1),
            }
            print(json.dumps(results), flush=True)  # kept in the log if the run is cut short
    finally:
        await runtime.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedded", type=int, default=0, help="inputs per schema on the embedded model")
    args = parser.parse_args()
    previous = RESULTS / "structured.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    if args.embedded:  # the slow part alone; the other figures are kept
        results["embedded_model"] = asyncio.run(embedded(args.embedded))
    else:
        results["incremental_parse"] = parse_cost()
        results["first_element"] = asyncio.run(first_element_latency())
    path = write_results("structured", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
