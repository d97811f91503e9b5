"""The egress guard (seed 003 ADR-0005/0006, ARCHITECTURE §7): every outbound HTTP connection —
providers, webhooks, fact sources — goes through it.

- Only hosts named in the configuration (a provider's `base_url`, a webhook, a fact source)
  or in `egress.allow` are admitted.
- An IP written literally in a configured URL is an explicit choice and admitted (a local
  model server on 127.0.0.1), except a cloud metadata address unless `egress.allow` lists it.
- A configured *name* is resolved at connect time and refused if any address it resolves to
  is loopback, private, link-local, metadata or otherwise internal, unless `egress.allow`
  lists the name. The connection is made to the address that was checked, so a name that
  rebinds between the check and the connect cannot slip through.
- Redirects are never followed (the clients are built with follow_redirects=False).

Two clients go through it: providers use our own (`providers/http1`), which connects only to an
address `EgressPolicy.addresses` returned; webhooks and fact sources use httpx (`GuardedTransport`:
a network backend that checks, then connects to the address it checked).

Tests may admit names that resolve to loopback with `loopback_names_for_tests()`, which works
only inside a pytest run: neither configuration nor the environment can switch it on.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from sluicegate.errors import EgressBlocked
from sluicegate.security.addresses import METADATA_NAMES, is_internal, is_metadata, parse_literal

Resolver = Callable[[str, int], Awaitable[list[str]]]
_loopback_for_tests: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sluicegate_loopback", default=False
)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Certificates from certifi, the same for every client."""
    return ssl.create_default_context(cafile=certifi.where())


@contextlib.contextmanager
def loopback_names_for_tests() -> Iterator[None]:
    if "pytest" not in sys.modules:
        raise RuntimeError("loopback_names_for_tests() is for the test suite only")
    token = _loopback_for_tests.set(True)
    try:
        yield
    finally:
        _loopback_for_tests.reset(token)


async def system_resolver(host: str, port: int) -> list[str]:
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass
class EgressPolicy:
    configured_hosts: set[str]
    allow: set[str] = field(default_factory=set)
    resolver: Resolver = system_resolver
    on_refuse: Callable[[str, str], None] | None = None

    @classmethod
    def from_urls(cls, urls: Iterable[str | None], allow: Iterable[str] = (), **options: Any) -> EgressPolicy:
        hosts = {host_of(url) for url in urls if url}
        return cls({h for h in hosts if h}, {a.lower() for a in allow}, **options)

    def refuse(self, host: str, reason: str) -> EgressBlocked:
        if self.on_refuse is not None:
            self.on_refuse(host, reason)
        return EgressBlocked(f"egress to {host} refused: {reason}", provider=host)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to for `host`, or EgressBlocked."""
        host = host.lower().strip("[]")
        allowed_by_name = host in self.allow
        if host not in self.configured_hosts and not allowed_by_name:
            raise self.refuse(host, "not a configured host")
        literal = parse_literal(host)
        if literal is not None:
            if is_metadata(literal) and not allowed_by_name:
                raise self.refuse(host, "metadata address")
            return [str(literal)]
        if host in METADATA_NAMES and not allowed_by_name:
            raise self.refuse(host, "metadata service name")
        try:
            resolved = await self.resolver(host, port)
        except OSError as exc:
            raise EgressBlocked(f"cannot resolve {host} ({type(exc).__name__})", provider=host) from None
        admitted = [text for text in resolved if self._admit_resolved(host, text, allowed_by_name)]
        if not admitted:
            raise self.refuse(host, "resolves to no address")
        return admitted

    def _admit_resolved(self, host: str, text: str, allowed_by_name: bool) -> bool:
        """One address a name resolved to: admitted, skipped, or the whole name refused."""
        address = parse_literal(text)
        if address is None:
            return False
        if allowed_by_name or str(address) in self.allow:
            return True
        if is_metadata(address):
            raise self.refuse(host, f"resolves to the metadata address {address}")
        if is_internal(address) and not (address.is_loopback and _loopback_for_tests.get()):
            raise self.refuse(host, f"resolves to the internal address {address}")
        return True


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks every connection, then connects to the very address it checked."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise self._policy.refuse(path, "unix sockets are not an egress route")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with every connection made through the egress guard. Proxies from
    the environment are ignored: a proxy would connect on our behalf, out of the guard's sight."""

    def __init__(self, policy: EgressPolicy, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=1000, max_keepalive_connections=200)
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy),
        )
