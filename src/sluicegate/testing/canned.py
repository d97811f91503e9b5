"""A loopback HTTP server that answers every request with one fixed response and records what it
received: for wire-level edge cases that a script cannot express (a stream without `[DONE]`, a
malformed body, a redirect, an in-band error).

    upstream = await CannedUpstream(200, b"data: ...\n\n").start()   # upstream.url
"""

from __future__ import annotations

import asyncio
import contextlib

from sluicegate.testing.http11 import HttpRequest, HttpResponder, read_request


class CannedUpstream:
    def __init__(self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.requests: list[HttpRequest] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> CannedUpstream:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and end every connection still open (a keep-alive one waits for a next
        request that will not come), so none outlives the event loop."""
        if self._server is not None:
            self._server.close()
            for handler in list(self._handlers):
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self.connections += 1
        responder = HttpResponder(writer)
        streaming = self.body.startswith((b"data:", b"event:"))
        content_type = "text/event-stream" if streaming else "application/json"
        try:
            while (request := await read_request(reader)) is not None:
                self.requests.append(request)
                responder.send(self.status, self.body, content_type, self.headers)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._handlers.discard(handler)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
