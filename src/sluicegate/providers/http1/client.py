"""The provider adapters' HTTP client: keep-alive HTTP/1.1 connections to one origin.

Written for the gateway's hot path (#20). Against the same upstream at concurrency 50, aiohttp
spent 97 µs of CPU a request and this client 31 (`benchmarks/http_clients.py`);
in the served gateway aiohttp was a quarter of the event loop's time. Providers need little of
a general client: two verbs, one origin per adapter, bodies already in memory, answers read
whole or as they arrive. What they need is here:

- connections are kept and reused (most recently used first) and dropped after `KEEPALIVE_S` idle
  or when the upstream closes them; at most `limit` at once, further requests wait for one;
- every new connection is made to an address `addresses` returned (the egress guard); without
  it the system resolver is used;
- TLS with the certifi roots, the host name checked;
- the connect timeout, and a read timeout while waiting for any data;
- no redirects followed and no proxy from the environment (either would take the request out of
  the egress guard's sight), no cookies, gzip and deflate bodies decoded.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar
from urllib.parse import quote, urlsplit

from sluicegate.errors import ConnectionClosed, HttpProtocolError
from sluicegate.providers.http1.connection import Http1Connection
from sluicegate.security.egress import tls_context

AddressLookup = Callable[[str, int], Awaitable[list[str]]]
KEEPALIVE_S = 15.0
MAX_CONNECTIONS = 1000
USER_AGENT = b"sluicegate"
_DECODED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a provider base_url must be an http(s) URL with a host, not {base_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("a provider base_url takes no query, fragment or credentials")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, quote(parts.path.rstrip("/"), safe=_PATH_SAFE))

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def header_block(headers: Mapping[str, str]) -> bytes:
    """Header lines, each checked: a line break in a value would start a header of its own."""
    lines = []
    for name, value in headers.items():
        if not name or any(c in name for c in " \t\r\n:\0"):
            raise ValueError(f"{name!r} is not a valid HTTP header name")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of the {name!r} header holds a line break or NUL")
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    return b"".join(lines)


class Response:
    """An answer's status and headers (names lower-cased); its body read whole or as it arrives."""

    __slots__ = ("_connection", "headers", "status")

    def __init__(self, connection: Http1Connection) -> None:
        self._connection = connection
        self.status = connection.status
        headers: dict[str, str] = {}
        for raw_name, raw_value in connection.raw_headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.headers = headers
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding in _DECODED_ENCODINGS:
            connection.decode_compressed()
        elif encoding != "identity":
            raise HttpProtocolError(f"the upstream sent content-encoding {encoding!r}, which is not decoded")

    async def read(self) -> bytes:
        pieces = []
        while piece := await self._connection.read_some():
            pieces.append(piece)
        return b"".join(pieces)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while piece := await self._connection.read_some():
            yield piece


@dataclass(frozen=True, slots=True)
class PoolSettings:
    connect_timeout_s: float
    read_timeout_s: float
    addresses: AddressLookup | None = None
    limit: int = MAX_CONNECTIONS
    tls: ssl.SSLContext | None = None  # None: the certifi roots (tests bring their own)
    keepalive_s: float = KEEPALIVE_S


class ConnectionPool:
    """Connections to one origin, made in (and belonging to) one event loop."""

    def __init__(self, origin: Origin, settings: PoolSettings) -> None:
        self._origin = origin
        self._settings = settings
        self._idle: deque[Http1Connection] = deque()
        self._slots = asyncio.Semaphore(settings.limit)
        self._closed = False

    async def acquire(self) -> Http1Connection:
        await self._slots.acquire()
        try:
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                if connection.usable(now, self._settings.keepalive_s):
                    connection.reused = True
                    return connection
                connection.close()
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: Http1Connection) -> None:
        if connection.finish() and not self._closed:
            self._idle.append(connection)
            # The least recently used wait at the front: those idle too long are closed, or a
            # burst's extra connections would stay open as long as the upstream allows.
            idle = self._idle
            while idle and connection.idle_since - idle[0].idle_since > self._settings.keepalive_s:
                idle.popleft().close()
        else:
            connection.close()
        self._slots.release()

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _connect(self) -> Http1Connection:
        origin, settings, loop = self._origin, self._settings, asyncio.get_running_loop()
        tls = (settings.tls or tls_context()) if origin.scheme == "https" else None
        async with asyncio.timeout(settings.connect_timeout_s):
            if settings.addresses is None:
                targets = [origin.host]
            else:
                targets = await settings.addresses(origin.host, origin.port)
            failure: OSError | None = None
            for address in targets:
                try:
                    _, connection = await loop.create_connection(
                        lambda: Http1Connection(loop, settings.read_timeout_s),
                        address,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls is not None else None,
                    )
                    return connection
                except OSError as exc:
                    failure = exc
            raise failure or OSError(f"no address to connect to for {origin.host}")


class Exchange:
    """`async with client.post(...) as response`: the connection is back in the pool on leaving,
    reusable only if the answer was read to its end."""

    __slots__ = ("_connection", "_pool", "_request")

    def __init__(self, pool: ConnectionPool, request: bytes) -> None:
        self._pool = pool
        self._request = request
        self._connection: Http1Connection | None = None

    async def __aenter__(self) -> Response:
        while True:
            connection = await self._pool.acquire()
            try:
                connection.send(self._request)
                await connection.head()
                response = Response(connection)
            except ConnectionClosed:
                self._pool.release(connection)
                if connection.closed_before_answering():
                    continue  # a fresh connection next: the pool hands out no closed one twice
                raise
            except BaseException:
                self._pool.release(connection)
                raise
            self._connection = connection
            return response

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection)


class Http1Client:
    """One provider's client. Its pool is made in the event loop that first uses it."""

    default_headers: ClassVar[Mapping[str, str]] = {}  # under the configured ones

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        addresses: AddressLookup | None = None,
        *,
        limit: int = MAX_CONNECTIONS,
        tls: ssl.SSLContext | None = None,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self._origin = Origin.parse(base_url)
        self._settings = PoolSettings(min(10.0, timeout_s), timeout_s, addresses, limit, tls, keepalive_s)
        fixed = {"host": self._origin.authority, "user-agent": USER_AGENT.decode(), "accept": "*/*"}
        configured = {k.lower(): v for k, v in {**self.default_headers, **headers}.items()}
        self._head = header_block({**fixed, **configured})
        self._pool: ConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def post(self, path: str, body: bytes) -> Exchange:
        return self.request(b"POST", path, body)

    def request(self, method: bytes, path: str, body: bytes | None = None) -> Exchange:
        if method not in (b"GET", b"POST"):
            raise ValueError(f"{method.decode()} is not a method the provider client sends")
        target = (self._origin.prefix + path).encode("latin-1")
        length = b"" if body is None else b"content-length: %d\r\n" % len(body)
        request = b"%s %s HTTP/1.1\r\n%s%s\r\n%s" % (method, target, self._head, length, body or b"")
        return Exchange(self._current(), request)

    def _current(self) -> ConnectionPool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._pool = ConnectionPool(self._origin, self._settings)
            self._loop = loop
        return self._pool

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
