"""The measures that compare.py and overhead.py share: the fast mock upstream as a process, and
one set of measures of an OpenAI-compatible endpoint driven by the lean load client."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import orjson
from load_client import Connection, drive

from sluicegate.testing.threads import free_port

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
SHORT, LONG = 10, 210  # stream lengths (chunks) whose difference gives the per-chunk cost

Call = Callable[[Connection], Coroutine[Any, Any, float]]


class Server:
    """A process we started, its log in a file (a pipe nobody reads would block it)."""

    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                args, cwd=cwd, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_upstream(workdir: Path) -> tuple[Server, str]:
    port = free_port()
    script = Path(__file__).parent / "fast_upstream.py"
    server = Server(
        [sys.executable, str(script), "--port", str(port)], env={}, cwd=workdir, log=workdir / "upstream.log"
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/ready", server, ok=(404,))
    return server, url


def wait_for(url: str, server: Server, *, timeout: float = 60, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited; see {server.log}")
        try:
            if httpx.get(url, timeout=2).status_code in ok:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready; see {server.log}")


def body(*, stream: bool = False, max_tokens: int | None = None) -> bytes:
    data: dict[str, Any] = {"model": "m", "messages": PROMPT}
    if stream:
        data["stream"] = True
    if max_tokens is not None:
        data["max_tokens"] = max_tokens
    return orjson.dumps(data)


def call(payload: bytes, measure: str) -> Call:
    async def one(connection: Connection) -> float:
        reply = await connection.post("/chat/completions", payload)
        if reply.status != 200:
            raise RuntimeError(f"status {reply.status}: {reply.body[:200]!r}")
        if measure == "ttft":
            if not reply.first_content_s:
                raise RuntimeError("the stream carried no content")
            return reply.first_content_s * 1000
        return reply.total_s * 1000

    return one


async def measure(
    url: str, headers: dict[str, str], requests: int, concurrency: int, pid: int | None = None
) -> dict[str, Any]:
    """The measures of one target. With `pid`, also its CPU time per request at concurrency 50
    (the process and its descendants, user and system). A target whose streams fail (Portkey on
    Node 20) gets None for the streamed measures, and `stream_error`."""
    plain, streamed = call(body(), "total"), call(body(stream=True, max_tokens=SHORT), "ttft")
    await drive(url, plain, 30, 4, headers)  # warm-up: connections, lazy imports, caches
    results: dict[str, Any] = {"c1_nonstream": await drive(url, plain, requests, 1, headers)}
    probe = await drive(url, streamed, 1, 1, headers)
    streams = not probe["errors"]
    if streams:
        results["c1_stream_ttft"] = await drive(url, streamed, requests, 1, headers)
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    results["c50_nonstream"] = await drive(url, plain, requests * 5, concurrency, headers)
    if pid is not None:
        served = results["c50_nonstream"]["n"] or 1
        results["c50_nonstream"]["cpu_us_per_request"] = (cpu_seconds(pid) - cpu_before) / served * 1e6
    if not streams:
        results["c1_stream_ttft"] = None
        results["stream_per_chunk_us"] = None
        results["stream_error"] = await stream_error(url, headers)
        return results
    short = await drive(url, call(body(stream=True, max_tokens=SHORT), "total"), requests // 5, 1, headers)
    long = await drive(url, call(body(stream=True, max_tokens=LONG), "total"), requests // 5, 1, headers)
    results["stream_per_chunk_us"] = (long["p50_ms"] - short["p50_ms"]) / (LONG - SHORT) * 1000
    return results


async def stream_error(url: str, headers: dict[str, str]) -> str:
    connection = Connection(url, headers)
    try:
        reply = await connection.post("/chat/completions", body(stream=True, max_tokens=SHORT))
    finally:
        await connection.close()
    return f"status {reply.status}: {reply.body[:160].decode(errors='replace')}"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, its threads and its descendants (the living ones)."""
    total = 0.0
    for each in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of a process and of its descendants onto `cpus` (threads made later inherit
    the mask of the thread that makes them)."""
    for each in [pid, *descendants(pid)]:
        for task in Path(f"/proc/{each}/task").glob("*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, first in runs[0].items():
        if isinstance(first, dict):
            merged[name] = {stat: statistics.median(run[name][stat] for run in runs) for stat in first}
        elif isinstance(first, int | float):
            merged[name] = statistics.median(run[name] for run in runs)
        else:
            merged[name] = first  # None (not measured) or a message
    return merged


def added_over(direct: dict[str, Any], side: dict[str, Any]) -> dict[str, float | None]:
    """What a gateway adds to a direct call, measure by measure (None where it was not measured)."""
    streamed = side.get("c1_stream_ttft")
    return {
        "c1_nonstream_p50_ms": side["c1_nonstream"]["p50_ms"] - direct["c1_nonstream"]["p50_ms"],
        "c1_nonstream_p99_ms": side["c1_nonstream"]["p99_ms"] - direct["c1_nonstream"]["p99_ms"],
        "c1_stream_ttft_p50_ms": None
        if streamed is None
        else streamed["p50_ms"] - direct["c1_stream_ttft"]["p50_ms"],
        "c1_stream_ttft_p99_ms": None
        if streamed is None
        else streamed["p99_ms"] - direct["c1_stream_ttft"]["p99_ms"],
        "c50_p99_ms": side["c50_nonstream"]["p99_ms"] - direct["c50_nonstream"]["p99_ms"],
        "stream_per_chunk_us": None
        if side.get("stream_per_chunk_us") is None
        else side["stream_per_chunk_us"] - direct["stream_per_chunk_us"],
    }
