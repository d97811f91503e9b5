"""A pricing/catalog service over HTTP as the fact source, through the egress guard:

GET {base_url}/listings/{id}        -> a listing object, or 404
GET {base_url}/listings?q=…&limit=N -> {"listings": [...]}
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from sluicegate.errors import FactSourceError
from sluicegate.guardrails.facts import Listing


class HttpFactSource:
    def __init__(
        self, base_url: str, *, timeout_s: float = 2.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport, follow_redirects=False
        )

    async def lookup(self, listing_id: str) -> Listing | None:
        response = await self._get(f"/listings/{listing_id}", {})
        if response.status_code == 404:
            return None
        return self._listing(response.content)

    async def search(self, query: str, limit: int = 5) -> list[Listing]:
        response = await self._get("/listings", {"q": query, "limit": str(limit)})
        try:
            items = response.json()["listings"]
            return [Listing.model_validate(item) for item in items][:limit]
        except (ValueError, KeyError, TypeError, ValidationError):
            raise FactSourceError("the catalog service answered an unreadable search") from None

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise FactSourceError(f"catalog service unreachable ({type(exc).__name__})") from None
        if response.status_code not in (200, 404):
            raise FactSourceError(f"catalog service answered {response.status_code}")
        return response

    @staticmethod
    def _listing(body: bytes) -> Listing:
        try:
            return Listing.model_validate_json(body)
        except ValidationError:
            raise FactSourceError("the catalog service answered an unreadable listing") from None

    async def aclose(self) -> None:
        await self._client.aclose()
