"""One keep-alive HTTP/1.1 connection to a provider: an asyncio protocol whose bytes httptools
(llhttp, the parser uvicorn serves with) turns into a status, headers and body pieces.

One exchange at a time. What arrives is kept in order and handed out as it is asked for: the
body that came before a failure is delivered before the failure is raised, so a stream cut
mid-answer still yields the text it carried.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import deque
from typing import cast

import httptools

from sluicegate.errors import ConnectionClosed, HttpProtocolError
from sluicegate.timers import MovableTimer

# Above this much unread body the socket stops being read, until the reader catches up.
READ_PAUSE_BYTES = 256 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
# An answer's status line and headers may take this much; an upstream that sends more (or never
# ends its headers) is cut off rather than buffered without end.
MAX_HEAD_BYTES = 64 * 1024


class Http1Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout_s: float) -> None:
        self._loop = loop
        self._read_timeout_s = read_timeout_s
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        # The read timeout, armed while someone waits for the upstream (`_wait`).
        self._read_deadline = MovableTimer(loop, self._timed_out)
        self._error: ConnectionError | TimeoutError | None = None
        self._closed = False
        self._active = False
        self.idle_since = 0.0
        self.reused = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self._received = False
        self._head_bytes = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._head_done = False
        self._complete = False
        self._keep_alive = False
        self._informational = False
        self._until_close = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._decoder: zlib._Decompress | None = None

    # -- the exchange, as its owner drives it --------------------------------------------------

    def send(self, request: bytes) -> None:
        """Start an exchange: `request` is the whole request, head and body."""
        assert self._transport is not None
        assert not self._active
        self._reset()
        self._active = True
        if self._closed or self._transport.is_closing():
            self._fail(ConnectionClosed("the upstream closed the connection before the request"))
            return
        self._transport.write(request)

    async def head(self) -> None:
        """Until the status and headers are in (informational 1xx answers skipped)."""
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read_some(self) -> bytes:
        """The body that has arrived since the last call (waiting for some); b"" at its end."""
        while True:
            while not self._body:
                if self._complete:
                    return self._flushed()
                if self._error is not None:
                    raise self._error
                await self._wait()
            data = self._body.popleft() if len(self._body) == 1 else b"".join(self._body)
            self._body.clear()
            self._buffered = 0
            if self._paused and self._transport is not None:
                self._paused = False
                self._transport.resume_reading()
            if self._decoder is None:
                return data
            # Compressed bytes may decode to nothing yet (a gzip header alone): b"" means the end.
            if decoded := self._decoded(data):
                return decoded

    def finish(self) -> bool:
        """End the exchange; whether the connection can carry another one."""
        self._active = False
        reusable = self._complete and self._keep_alive and not self._closed and self._error is None
        if reusable:
            self.idle_since = time.monotonic()
        return reusable

    def closed_before_answering(self) -> bool:
        """A kept-alive connection the upstream had closed when this request went out: it never saw
        the request, so sending it again on a new connection is safe."""
        return self.reused and not self._received and isinstance(self._error, ConnectionClosed)

    def usable(self, now: float, keepalive_s: float) -> bool:
        return not self._closed and self._error is None and now - self.idle_since < keepalive_s

    def close(self) -> None:
        self._closed = True
        self._read_deadline.close()
        if self._transport is not None:
            self._transport.close()

    def decode_compressed(self) -> None:
        """Undo a gzip or deflate content encoding as the body is read."""
        self._decoder = zlib.decompressobj(47)  # 32 + 15: gzip or zlib framing, whichever it is

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        if not self._active:
            self._fail(HttpProtocolError("the upstream sent bytes nobody asked for"))
            return
        if not self._head_done:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(HttpProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(HttpProtocolError(f"malformed HTTP from the upstream ({exc})"))
        if not self._head_done and self._head_bytes > MAX_HEAD_BYTES:
            self._fail(HttpProtocolError(f"the upstream's headers exceed {MAX_HEAD_BYTES} bytes"))

    def eof_received(self) -> bool | None:
        self._ended()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._ended()

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # a second answer to one request: nothing of it may reach the reader
            raise HttpProtocolError("the upstream sent bytes nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200:
            self._informational = True
            return
        self._until_close = self.status not in _NO_BODY_STATUSES and not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.raw_headers
        )
        self._head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > READ_PAUSE_BYTES and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            self.raw_headers = []
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()

    # -- inside ----------------------------------------------------------------------------------

    def _ended(self) -> None:
        """The upstream is gone: a body that runs to the connection's end is whole now; any other
        unfinished answer is not."""
        if self._active and self._head_done and self._until_close and not self._complete:
            self._complete = True
            self._keep_alive = False
            self._wake()
        elif self._active and not self._complete:
            when = "mid-answer" if self._received else "without answering"
            self._fail(ConnectionClosed(f"the upstream closed the connection {when}"))
        self._closed = True

    def _fail(self, error: ConnectionError | TimeoutError) -> None:
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    async def _wait(self) -> None:
        """Until the upstream has sent more, within the read timeout (counted from each wait)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        self._read_deadline.arm(self._read_timeout_s)
        try:
            await waiter
        finally:
            self._waiter = None
            self._read_deadline.disarm()

    def _timed_out(self) -> None:
        self._fail(TimeoutError(f"no data from the upstream for {self._read_timeout_s:g} s"))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _flushed(self) -> bytes:
        """What a decoder still holds at the body's end (nothing without one)."""
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return b""
        if not decoder.eof:
            raise HttpProtocolError("the upstream's compressed body ends early")
        return decoder.flush()

    def _decoded(self, data: bytes) -> bytes:
        assert self._decoder is not None
        try:
            return self._decoder.decompress(data)
        except zlib.error:
            raise HttpProtocolError("the upstream's compressed body is corrupt") from None
