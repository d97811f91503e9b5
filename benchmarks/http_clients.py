"""Which HTTP client for provider traffic: CPU per request and requests/s of httpx, aiohttp and
sluicegate's own (`sluicegate.providers.http1`) against the fast mock upstream, at concurrency 1
and 50, alternating (A B C A B C), on uvloop as the server runs.

    python benchmarks/http_clients.py [--requests 3000]

Writes benchmarks/results/http_clients.json. This is the measurement behind the provider
adapters' client: httpx first lost to aiohttp (its pool scans every pooled connection on each
request), then aiohttp to a lean keep-alive client on httptools (#20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvloop
from harness import write_results

from sluicegate.providers.http1 import Http1Client

PAYLOAD = {"model": "m", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
Post = Callable[[], Awaitable[None]]


async def timed(post: Post, requests: int, concurrency: int) -> dict[str, float]:
    for _ in range(100):
        await post()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await post()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us_per_request": cpu / requests * 1e6, "rps": requests / wall}


async def with_httpx(url: str, requests: int, concurrency: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post() -> None:
            response = await client.post(url, json=PAYLOAD)
            json.loads(await response.aread())

        return await timed(post, requests, concurrency)


async def with_aiohttp(url: str, requests: int, concurrency: int) -> dict[str, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)) as session:

        async def post() -> None:
            async with session.post(url, json=PAYLOAD) as response:
                json.loads(await response.read())

        return await timed(post, requests, concurrency)


async def with_sluicegate(url: str, requests: int, concurrency: int) -> dict[str, float]:
    base, _, path = url.partition("/v1")
    client = Http1Client(base + "/v1", {"content-type": "application/json"}, 60.0)

    async def post() -> None:
        async with client.post(path, orjson.dumps(PAYLOAD)) as response:
            json.loads(await response.read())

    try:
        return await timed(post, requests, concurrency)
    finally:
        await client.aclose()


CLIENTS = (("httpx", with_httpx), ("aiohttp", with_aiohttp), ("sluicegate", with_sluicegate))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    script = Path(__file__).parent / "fast_upstream.py"
    upstream = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    url = upstream.stdout.readline().strip() + "/v1/chat/completions"
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        for _ in range(args.rounds):
            for name, client in (
                ("httpx", with_httpx),
                ("aiohttp", with_aiohttp),
                ("sluicegate", with_sluicegate),
            ):
                for concurrency in (1, 50):
                    key = f"{name}_c{concurrency}"
                    runs.setdefault(key, []).append(uvloop.run(client(url, args.requests, concurrency)))
    finally:
        upstream.terminate()
        upstream.wait()
    results: dict[str, Any] = {
        key: {stat: statistics.median(run[stat] for run in values) for stat in values[0]}
        for key, values in runs.items()
    }
    results["settings"] = {"requests": args.requests, "rounds": args.rounds}
    path = write_results("http_clients", results)
    print(f"{'client':<16}{'CPU µs/request':>16}{'requests/s':>12}")
    for key, value in results.items():
        if key != "settings":
            print(f"{key:<16}{value['cpu_us_per_request']:>16.0f}{value['rps']:>12.0f}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
