"""A loopback server that answers each request with whatever bytes a test writes, counting the
connections it was given; an answer's bytes, and one exchange read whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from sluicegate.providers.http1 import Http1Client
from sluicegate.testing.http11 import HttpRequest, read_request

# Writes the answer to one request; returns False to close the connection afterwards.
Answer = Callable[[HttpRequest, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class RawServer:
    url: str
    requests: list[HttpRequest] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0
    most_open: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


Serve = Callable[[Answer], Awaitable[RawServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[tuple[asyncio.Server, RawServer]] = []

    async def start(answer: Answer) -> RawServer:
        state = RawServer("")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            state.connections += 1
            state.open_connections += 1
            state.most_open = max(state.most_open, state.open_connections)
            state.writers.append(writer)
            try:
                while (request := await read_request(reader)) is not None:
                    state.requests.append(request)
                    if not await answer(request, writer):
                        break
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                state.open_connections -= 1
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append((server, state))
        state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return state

    yield start
    for server, state in servers:
        server.close()
        for writer in state.writers:
            writer.transport.abort()


def ok(body: bytes = b"{}", **extra: str) -> bytes:
    head = {"content-type": "application/json", "content-length": str(len(body)), **extra}
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return f"HTTP/1.1 200 OK\r\n{lines}\r\n".encode() + body


async def post(client: Http1Client, body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
    async with client.post("/chat/completions", body) as response:
        return response.status, response.headers, await response.read()
