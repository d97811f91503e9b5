"""What the HTTP adapters share: one aiohttp session per provider, and the translation of
transport failures and error statuses into our `ProviderError` tree.

aiohttp rather than httpx for provider traffic: `benchmarks/http_clients.py` measures httpx at
1.4 ms of CPU per request at concurrency 50 (its pool scans every pooled connection on each
request) against 0.09 ms for aiohttp, and provider calls are the gateway's hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import orjson

from sluicegate.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    TruncatedStream,
)
from sluicegate.providers.sse import ServerSentEvent, sse_events
from sluicegate.security.egress import tls_context
from sluicegate.security.secrets import SECRETS

MAX_ERROR_MESSAGE = 300
# How long a stream may linger after its last event before it is cut off.
DRAIN_GRACE_S = 1.0
MAX_CONNECTIONS = 1000

ConnectorFactory = Callable[[], aiohttp.BaseConnector]


def plain_connector() -> aiohttp.BaseConnector:
    """A connector without the egress guard, for adapters built by hand (tests, scripts)."""
    return aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=tls_context())


class HttpClient:
    """One provider's HTTP session, made in the event loop that first uses it (an aiohttp session
    belongs to one loop). Redirects are never followed (a redirect could carry a key to another
    host) and proxies from the environment are ignored (they would connect out of the egress
    guard's sight)."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        connector: ConnectorFactory | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"content-type": "application/json", **headers}
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(10.0, timeout_s), sock_read=timeout_s
        )
        self._connector = connector or plain_connector
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=self._connector(),
                headers=self._headers,
                timeout=self._timeout,
                trust_env=False,
                # Providers set no cookies we want to send back; a real jar is consulted on every
                # request and response.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._loop = loop
        return self._session

    def post(self, path: str, payload: dict[str, Any]) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        return self._current().post(self._base + path, data=orjson.dumps(payload), allow_redirects=False)

    async def call(self, path: str, payload: dict[str, Any], provider: str) -> bytes:
        """One whole (non-streamed) exchange: the body of a 200, else the error it stands for."""
        async with translated_errors(provider), self.post(path, payload) as response:
            body = await response.read()
        if response.status != 200:
            raise error_for_status(response.status, body, response.headers, provider)
        return body

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class Exchange:
    """Where an HTTP exchange got to; a dropped connection means different things before and after
    the response started."""

    receiving: bool = False


@asynccontextmanager
async def translated_errors(provider: str) -> AsyncIterator[Exchange]:
    """Map aiohttp's exceptions onto ours; nothing from aiohttp escapes an adapter."""
    exchange = Exchange()
    try:
        yield exchange
    except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
        raise ProviderTimeout(f"upstream timed out ({type(exc).__name__})", provider=provider) from None
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        if exchange.receiving:
            raise TruncatedStream(
                f"connection lost mid-stream ({type(exc).__name__})", provider=provider
            ) from None
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__})", provider=provider) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__})", provider=provider) from None


def events(response: aiohttp.ClientResponse) -> AsyncIterator[ServerSentEvent]:
    return sse_events(response.content.iter_any())


async def drain(events: AsyncIterator[object], grace_s: float = DRAIN_GRACE_S) -> None:
    """Read a stream to its end after its last event, so that its connection goes back to the pool:
    a response closed unread is a connection thrown away (and a new one opened for the next call).
    A server that lingers past `grace_s`, or drops the connection now, costs only that connection."""
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
        async with asyncio.timeout(grace_s):
            async for _ in events:
                pass


def error_for_status(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    message = f"upstream answered {status}: {SECRETS.scrub(upstream_message(body))}"
    if status == 429:
        return ProviderRateLimited(message, provider=provider, retry_after=parse_retry_after(headers))
    if status in (401, 403):
        return ProviderAuthError(f"upstream answered {status} (check the provider's key)", provider=provider)
    if status == 408:
        return ProviderTimeout(message, provider=provider, status=status)
    if 400 <= status < 500:
        return ProviderBadRequest(message, provider=provider, status=status)
    return ProviderServerError(message, provider=provider, status=status)


def upstream_message(body: bytes) -> str:
    """The upstream's own error message if it has the usual shape, else a short excerpt."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:MAX_ERROR_MESSAGE].decode("utf-8", "replace").strip()
        return text or "no body"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:MAX_ERROR_MESSAGE]
        if isinstance(error, str):
            return error[:MAX_ERROR_MESSAGE]
    return "unrecognised error body"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def in_band_error(kind: str, message: str, provider: str) -> ProviderError:
    """An error event inside a 200 stream, classified by the type name the upstream gave."""
    text = SECRETS.scrub(f"upstream stream error ({kind}): {message[:MAX_ERROR_MESSAGE]}")
    lowered = kind.lower()
    if "rate" in lowered:
        return ProviderRateLimited(text, provider=provider)
    if "auth" in lowered or "permission" in lowered:
        return ProviderAuthError(text, provider=provider)
    if "invalid" in lowered or "not_found" in lowered:
        return ProviderBadRequest(text, provider=provider)
    return ProviderServerError(text, provider=provider)


def event_json(data: str, provider: str) -> dict[str, Any]:
    """One SSE `data:` payload as a JSON object, or MalformedResponse."""
    try:
        parsed = orjson.loads(data)
    except ValueError:
        raise MalformedResponse("unparseable stream event", provider=provider) from None
    if not isinstance(parsed, dict):
        raise MalformedResponse("stream event is not an object", provider=provider)
    return parsed
