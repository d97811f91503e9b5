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
import math
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sluicegate.config.schema import ServerConfig
from sluicegate.server.corked_transport import CorkedTransport


class HeaderDeadlineProtocol(HttpToolsProtocol):
    # Set from server.header_timeout_s by `serve` (and by each worker process's app factory).
    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._headers_due = math.inf  # while a request is being served

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._corked = CorkedTransport(transport, self.loop)
        super().connection_made(self._corked)  # type: ignore[arg-type]
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        self._corked.expect_response()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        """The next request's headers are due within `header_timeout_s` from now. One timer a
        connection, moved lazily: a request moves a float, and the timer, when it fires before
        the moment due, sleeps on until it (a timer armed and cancelled a request cost 2.7 µs)."""
        self._headers_due = self.loop.time() + self.header_timeout_s
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_at(self._headers_due, self._check_headers)

    def _disarm_header_deadline(self) -> None:
        self._headers_due = math.inf

    def _check_headers(self) -> None:
        self._header_deadline = None
        if self._headers_due == math.inf:
            return  # a request is being served; the end of its response arms the timer again
        if self.loop.time() < self._headers_due:
            self._header_deadline = self.loop.call_at(self._headers_due, self._check_headers)
            return
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
