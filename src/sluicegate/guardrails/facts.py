"""The fact-source port: where the guardrails get the truth about a product (price, stock,
trust signals). The demo catalog answers by default; a real pricing/catalog service replaces it
through the HTTP adapter. Implementations live in `sluicegate.factsources`."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Listing(BaseModel):
    # Fields a catalog sends beyond these are kept with the listing (they go with it to the
    # review sample), never dropped unseen.
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    title: str
    series: str
    volume: int
    author: str
    price: float
    currency: str = "USD"
    stock: int
    seller: str
    seller_since: date
    listing_trust_score: float | None = None
    description: str = ""


class FactSource(Protocol):
    async def lookup(self, listing_id: str) -> Listing | None:
        """The listing with this id, or None if there is none."""
        ...

    async def search(self, query: str, limit: int = 5) -> list[Listing]:
        """Listings whose title or series matches the words of `query`, best first."""
        ...

    async def aclose(self) -> None: ...
