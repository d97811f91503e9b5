"""A loopback HTTP server that records the JSON bodies POSTed to it (alert webhooks, for tests)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sluicegate.testing.http11 import HttpResponder, read_request


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        responder = HttpResponder(writer)
        try:
            while (request := await read_request(reader)) is not None:
                self.received.append((request.path, json.loads(request.body or b"null")))
                responder.send(204, b"")
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
