"""A lean HTTP/1.1 load client: keep-alive connections over uvloop, responses parsed by httptools.

A Python client such as httpx spends more CPU per request than a fast gateway does; on a
two-core machine that CPU is taken from the server being measured and squeezes every ratio
toward 1. This one costs a few tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

# The first delta with text: `"content":"x` (any JSON spacing), never the empty role delta.
FIRST_CONTENT = re.compile(rb'"content":\s*"[^"]')


@dataclass
class Reply:
    status: int
    body: bytes
    first_content_s: float  # since the request was written; 0 when no content came
    total_s: float


class _ResponseState:
    def __init__(self, started: float) -> None:
        self.started = started
        self.body: list[bytes] = []
        self.tail = b""
        self.first_content = 0.0
        self.done = False
        self.keep_alive = False
        self.parser: httptools.HttpResponseParser | None = None

    def on_body(self, data: bytes) -> None:
        self.body.append(data)
        if not self.first_content:
            window = self.tail + data
            if FIRST_CONTENT.search(window):
                self.first_content = time.perf_counter() - self.started
            self.tail = window[-32:]

    def on_message_complete(self) -> None:
        # Asked here: once `feed_data` has returned, the parser has reset for the next message and
        # answers False (every request then came on a new connection).
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()
        self.done = True


class Connection:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {self._host}:{self._port}\r\ncontent-type: application/json\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def post(self, path: str, body: bytes) -> Reply:
        if self._writer is None or self._writer.is_closing():
            await self._open()
        assert self._reader is not None
        assert self._writer is not None
        request = (
            f"POST {self._prefix}{path} HTTP/1.1\r\n{self._head}content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        state = _ResponseState(started)
        parser = state.parser = httptools.HttpResponseParser(state)
        self._writer.write(request)
        while not state.done:
            data = await self._reader.read(262144)
            if not data:
                self._writer.close()
                self._writer = None
                raise ConnectionError("the server closed the connection mid-response")
            parser.feed_data(data)
        if not state.keep_alive:
            self._writer.close()
            self._writer = None
        return Reply(
            parser.get_status_code(), b"".join(state.body), state.first_content, time.perf_counter() - started
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(latencies_ms: list[float], elapsed_s: float, errors: int) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(latencies_ms) if latencies_ms else float("nan"),
        "p99_ms": percentile(latencies_ms, 99),
        "rps": len(latencies_ms) / elapsed_s if elapsed_s else 0.0,
        "n": float(len(latencies_ms)),
        "errors": float(errors),
    }


async def drive(
    url: str,
    call: Callable[[Connection], Awaitable[float]],
    total: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """`total` calls over `concurrency` connections; latencies (ms) as `call` measures them."""
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        connection = Connection(url, headers)
        try:
            for _ in remaining:
                try:
                    latencies.append(await call(connection))
                except (OSError, RuntimeError):
                    errors += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started, errors)
