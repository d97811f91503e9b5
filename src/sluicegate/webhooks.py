"""Delivering alerts to a webhook: a POST of the alert as JSON, redirects not followed."""

from __future__ import annotations

from typing import Any

import httpx

from sluicegate.alerts import Deliver


def webhook(url: str, transport: httpx.AsyncBaseTransport | None = None) -> Deliver:
    async def post(event: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=5, follow_redirects=False, transport=transport) as client:
            response = await client.post(url, json=event)
            response.raise_for_status()

    return post
