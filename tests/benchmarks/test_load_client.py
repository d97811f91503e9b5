"""The benchmarks' load client keeps its connections alive, as the official clients do: it once
opened a new connection for every request (it asked the parser about keep-alive after the parser
had reset), so every gateway measured paid an accept and a close a request."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from load_client import Connection, drive

ANSWER = b'{"choices":[{"message":{"content":"hi"}}]}'


async def test_requests_share_their_connections_and_a_close_is_honoured() -> None:
    connections = 0
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, served
        connections += 1
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            served += 1
            close = served % 10 == 0  # now and then the server ends the connection
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + (b"connection: close\r\n" if close else b"")
                + b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
            )
            await writer.drain()
            if close:
                writer.close()
                return

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def call(connection: Connection) -> float:
        reply = await connection.post("/chat/completions", b"{}")
        assert reply.status == 200
        assert reply.body == ANSWER
        return reply.total_s * 1000

    result = await drive(f"http://127.0.0.1:{port}/v1", call, 100, 2)
    server.close()
    await server.wait_closed()
    assert result["n"] == 100
    assert result["errors"] == 0
    # Two connections to start with, and one more after each of the server's ten closes.
    assert connections <= 12
