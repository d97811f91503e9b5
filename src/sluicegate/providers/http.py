"""What the HTTP adapters share: one client per provider, and the translation of
transport failures and error statuses into our `ProviderError` tree."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

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
from sluicegate.security.secrets import SECRETS

MAX_ERROR_MESSAGE = 300


def build_client(
    base_url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=dict(headers),
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        # Redirects are never followed: a redirect could carry a key to another host.
        follow_redirects=False,
        transport=transport,
    )


class Exchange:
    """Where an HTTP exchange got to; a dropped connection means different things before and after
    the response started."""

    receiving: bool = False


@asynccontextmanager
async def translated_errors(provider: str) -> AsyncIterator[Exchange]:
    """Map httpx's exceptions onto ours; nothing from httpx escapes an adapter."""
    exchange = Exchange()
    try:
        yield exchange
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"upstream timed out ({type(exc).__name__})", provider=provider) from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if exchange.receiving:
            raise TruncatedStream(
                f"connection lost mid-stream ({type(exc).__name__})", provider=provider
            ) from None
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__})", provider=provider) from None
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__})", provider=provider) from None


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
        parsed = json.loads(data)
    except ValueError:
        raise MalformedResponse("unparseable stream event", provider=provider) from None
    if not isinstance(parsed, dict):
        raise MalformedResponse("stream event is not an object", provider=provider)
    return parsed
