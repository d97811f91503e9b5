"""uvicorn's HTTP protocol with a deadline on request headers and corked writes
(`corked_transport.py`), and the server options built from `server.*`.

uvicorn closes a connection that sits idle between requests (keep-alive timeout) but never one
whose request headers never finish: a client that sends `GET / HTTP/1.1\\r\\nHost: x` and then
nothing, or a byte every few seconds, holds a connection for ever (40 held for 20 s, none closed,
in an outside probe). This protocol closes a connection whose headers are not complete within
`server.header_timeout_s` of its opening or of the end of its previous response. Bodies have
their own deadline where they are read (`server/body.py`: 408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sluicegate.config.schema import ServerConfig
from sluicegate.server.corked_transport import CorkedTransport
from sluicegate.timers import MovableTimer


class HeaderDeadlineProtocol(HttpToolsProtocol):
    # Set from server.header_timeout_s by `serve` (and by each worker process's app factory).
    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One timer a connection, moved along: armed from the connection's opening and from the
        # end of each response, disarmed when a request's headers are complete.
        self._header_deadline = MovableTimer(self.loop, self._headers_too_slow)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._corked = CorkedTransport(transport, self.loop)
        super().connection_made(self._corked)  # type: ignore[arg-type]
        self._header_deadline.arm(self.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._header_deadline.disarm()
        self._corked.expect_response()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._header_deadline.arm(self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline.close()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: ServerConfig) -> dict[str, Any]:
    """What `serve` and the test servers hand uvicorn: the protocol, a connection limit and the
    keep-alive timeout."""
    HeaderDeadlineProtocol.header_timeout_s = settings.header_timeout_s
    return {
        "http": HeaderDeadlineProtocol,
        # Beyond this many connections and requests in flight, uvicorn answers 503 at once.
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
    }
