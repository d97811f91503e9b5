"""Requests refused before any work: a Host that is not ours (DNS rebinding), an Origin that is not
allowed (a foreign web page spending tokens through a local user's browser).

A browser names the page that sends a request in `Origin`; our own pages are same-origin (the
Origin's host and port are the Host the request was sent to). Any other Origin must be listed in
`server.cors_allow_origins`. A DNS-rebinding page is same-origin by the browser's rules, but its
Host header is the attacker's name: that is what `server.allowed_hosts` refuses, by default
everything but loopback names when the gateway listens on a loopback address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from sluicegate.config.schema import ServerConfig
from sluicegate.server.errors import plain_error

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ServerConfig) -> None:
        self.app = app
        self.hosts = allowed_hosts(settings)
        self.origins = frozenset(origin.rstrip("/").lower() for origin in settings.cors_allow_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host_header = ""
        origin = None
        for name, value in scope["headers"]:
            if name == b"host":
                host_header = value.decode("latin-1").lower()
            elif name == b"origin":
                origin = value.decode("latin-1").rstrip("/").lower()
        if self.hosts is not None and hostname(host_header) not in self.hosts:
            response = plain_error(
                403,
                f"Host '{hostname(host_header)}' is not served here (server.allowed_hosts).",
                code="host_not_allowed",
            )
            await response(scope, receive, send)
            return
        if origin is not None and not self._origin_allowed(origin, host_header):
            response = plain_error(
                403,
                f"Requests from web pages at {origin} are not allowed (server.cors_allow_origins).",
                code="origin_not_allowed",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _origin_allowed(self, origin: str, host_header: str) -> bool:
        if "*" in self.origins or origin in self.origins:
            return True
        return bool(host_header) and urlsplit(origin).netloc == host_header


def allowed_hosts(settings: ServerConfig) -> frozenset[str] | None:
    """The Host names served, or None for any."""
    if settings.allowed_hosts is not None:
        names = frozenset(name.lower().strip("[]") for name in settings.allowed_hosts)
        return None if "*" in names else names
    return LOOPBACK_NAMES if _is_loopback(settings.host) else None


def hostname(host_header: str) -> str:
    """`[::1]:8080` -> `::1`, `example.com:8080` -> `example.com`."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    if host_header.count(":") > 1:  # a bare IPv6 address
        return host_header
    return host_header.partition(":")[0]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
