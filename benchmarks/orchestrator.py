"""The orchestrator's own cost per request, in process, with every optional stage off.

    python benchmarks/orchestrator.py [--requests 20000]

One role over the scripted provider (an answer of 3 words, no delay), memory state, audit into
an in-memory event log (its events are still built and queued, as in production), no cache, no
budget, no guardrails, no tier-0 rule, no domain pack, nothing in the empty places. Measured, in
alternating rounds, the median µs per request of:

- `stack`: the role's provider stack alone (coalescer, limiter, retry, failover, breaker,
  timeouts, adapter), streamed to its end;
- `pipeline`: the same request through `Orchestrator.run` (its states, the audit events of each
  move, the received and completed records), collected as frames;
- `door`: the same request as `POST /v1/chat/completions` through the application, called in
  process (its middlewares, the body read and validated, the answer rendered): what the HTTP
  server hands the app and takes back, without the server and the sockets.

The difference is what the orchestrator adds. Also with the inline guardrails on (the default
rules), to show what the first optional stage costs. Writes benchmarks/results/orchestrator.json.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from typing import Any

import orjson
from harness import write_results
from starlette.types import ASGIApp

from sluicegate.config.schema import Config
from sluicegate.logs import configure_logging
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.server.app import create_app, settle_garbage_collector
from sluicegate.state.memory import MemoryStateStore
from sluicegate.testing.event_log import MemoryEventLog
from sluicegate.types import CompletionRequest, Message

OFF = {"pii": "off", "competitors": "off", "profanity": "off"}


def runtime(guardrails: bool) -> Runtime:
    settings: dict[str, Any] = {
        "providers": {"s": {"type": "scripted", "inline": {"models": {"m": [{"text": "one two three"}]}}}},
        "models": {"m": {"use": ["s/m"]}},
        "cache": {"enabled": False},
        "assistant": {"pack": None},
        "guardrails": {"inline": {} if guardrails else OFF},
    }
    return build_runtime(
        Config.model_validate(settings), event_log=MemoryEventLog(keep=False), state=MemoryStateStore()
    )


REQUEST = CompletionRequest("m", (Message("user", "hello there"),))


async def through_stack(rt: Runtime, count: int) -> float:
    route = rt.stacks.resolve("m")
    started = time.perf_counter()
    for _ in range(count):
        ctx = RequestContext()
        token = bind(ctx)
        async for _chunk in rt.stacks.stream(route, REQUEST, ctx.call):
            pass
        unbind(token)
    return (time.perf_counter() - started) / count * 1e6


async def through_pipeline(rt: Runtime, count: int) -> float:
    asked = PipelineRequest(REQUEST, endpoint="bench", caller=Caller(local=True))
    started = time.perf_counter()
    for _ in range(count):
        ctx = RequestContext()
        token = bind(ctx)
        async for _frame in rt.pipeline.run(asked, ctx):
            pass
        unbind(token)
    return (time.perf_counter() - started) / count * 1e6


async def through_door(app: ASGIApp, count: int) -> float:
    """`POST /v1/chat/completions` through the application itself (its middlewares, the door's
    parsing and rendering), called in process: what the HTTP server hands it and takes back."""
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hello there"}]})
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    started = time.perf_counter()
    for _ in range(count):
        scope = {
            "type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"",
            "root_path": "", "query_string": b"", "headers": headers, "state": {},
        }  # fmt: skip
        sent: list[Any] = []
        await app(scope, _body_once(body), _keep(sent))
        if sent[0]["status"] != 200:
            raise RuntimeError(f"the door answered {sent[0]['status']}: {sent[1:]}")
    return (time.perf_counter() - started) / count * 1e6


def _body_once(body: bytes) -> Any:
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    return receive


def _keep(sent: list[Any]) -> Any:
    async def send(message: Any) -> None:
        sent.append(message)

    return send


async def measure(requests: int, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, guardrails in (("all_optional_stages_off", False), ("inline_guardrails_on", True)):
        rt = runtime(guardrails)
        app = create_app(rt, warm=False)
        await through_pipeline(rt, 200)  # warm: stacks built, code paths hot
        await through_stack(rt, 200)
        await through_door(app, 200)
        settle_garbage_collector()  # as the server does once started
        stack, pipeline, door = [], [], []
        for _ in range(rounds):
            stack.append(await through_stack(rt, requests // rounds))
            pipeline.append(await through_pipeline(rt, requests // rounds))
            door.append(await through_door(app, requests // rounds))
            await rt.audit.flush()
        await rt.aclose()
        results[label] = {
            "stack_us": round(statistics.median(stack), 1),
            "pipeline_us": round(statistics.median(pipeline), 1),
            "door_us": round(statistics.median(door), 1),
            "orchestrator_us": round(
                statistics.median(p - s for p, s in zip(pipeline, stack, strict=True)), 1
            ),
            "door_over_pipeline_us": round(
                statistics.median(d - p for d, p in zip(door, pipeline, strict=True)), 1
            ),
        }
        print(label, results[label], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure_logging("warning")  # as `serve` with log_level warning: no line per request
    results = asyncio.run(measure(args.requests, args.rounds))
    results["settings"] = {"requests": args.requests, "rounds": args.rounds}
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    print(write_results("orchestrator", results))


if __name__ == "__main__":
    main()
