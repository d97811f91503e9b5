"""What the HTTP adapters share: one client per provider (`http1`, a lean keep-alive HTTP/1.1
client), and the translation of transport failures and error statuses into our `ProviderError`
tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, ClassVar

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
from sluicegate.providers.http1 import Exchange, Http1Client, Response
from sluicegate.providers.sse import ServerSentEvent, sse_events
from sluicegate.security.secrets import SECRETS

MAX_ERROR_MESSAGE = 300
# How long a stream may linger after its last event before it is cut off.
DRAIN_GRACE_S = 1.0


class HttpClient(Http1Client):
    """A provider's client speaking JSON: payloads are dicts, sent as application/json. Its
    connections are made to the addresses `addresses` admits (the egress guard); without it, to
    what the system resolver says."""

    default_headers: ClassVar[Mapping[str, str]] = {"content-type": "application/json"}

    def post_json(self, path: str, payload: dict[str, Any]) -> Exchange:
        return self.post(path, orjson.dumps(payload))

    async def call(self, path: str, payload: dict[str, Any], provider: str) -> bytes:
        """One whole (non-streamed) exchange: the body of a 200, else the error it stands for."""
        async with TranslatedErrors(provider), self.post_json(path, payload) as response:
            body = await response.read()
        if response.status != 200:
            raise error_for_status(response.status, body, response.headers, provider)
        return body


class TranslatedErrors:
    """`async with TranslatedErrors(provider) as exchange`: transport failures mapped onto ours, so
    that no OSError escapes an adapter. `exchange.receiving` says where the exchange got to: a
    dropped connection means different things before and after the response started. (A class,
    not a generator-based context manager: it is entered on every provider call.)"""

    __slots__ = ("provider", "receiving")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.receiving = False

    async def __aenter__(self) -> TranslatedErrors:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if isinstance(error, TimeoutError):
            detail = str(error) or type(error).__name__
            raise ProviderTimeout(f"upstream timed out ({detail})", provider=self.provider) from None
        if isinstance(error, OSError):  # ConnectionError included: refused, reset, closed early, not HTTP
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if self.receiving:
                message = f"connection lost mid-stream ({detail})"
                raise TruncatedStream(message, provider=self.provider) from None
            raise ProviderUnavailable(f"connection failed ({detail})", provider=self.provider) from None


def events(response: Response) -> AsyncIterator[ServerSentEvent]:
    return sse_events(response.iter_chunks())


async def drain(events: AsyncIterator[object], grace_s: float = DRAIN_GRACE_S) -> None:
    """Read a stream to its end after its last event, so that its connection goes back to the pool:
    a response closed unread is a connection thrown away (and a new one opened for the next call).
    A server that lingers past `grace_s`, or drops the connection now, costs only that connection."""
    with contextlib.suppress(TimeoutError, OSError):
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
