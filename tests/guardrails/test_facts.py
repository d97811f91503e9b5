"""The fact-source port: the bundled catalog in SQLite, and a catalog service over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sluicegate.errors import FactSourceError
from sluicegate.factsources.catalog import SqliteCatalog, bundled_listings
from sluicegate.factsources.http import HttpFactSource


def test_the_bundled_catalog_has_what_the_guardrails_need() -> None:
    listings = bundled_listings()
    assert len(listings) >= 300
    assert len({item["id"] for item in listings}) == len(listings)
    assert all(len(item["id"]) == 10 for item in listings)
    assert any(item["listing_trust_score"] is None for item in listings)
    assert any((item["listing_trust_score"] or 1) < 0.7 for item in listings)
    assert any(item["seller_since"] > "2026-10-02" for item in listings)  # sellers younger than 30 days


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[SqliteCatalog]:
    source = SqliteCatalog(tmp_path / "catalog.db")
    yield source
    await source.aclose()


async def test_lookup_and_search(catalog: SqliteCatalog) -> None:
    first = bundled_listings()[0]
    found = await catalog.lookup(first["id"])
    assert found is not None
    assert found.price == first["price"]
    assert await catalog.lookup("B0NOTREAL0") is None
    hits = await catalog.search("clockwork fox volume", limit=3)
    assert hits
    assert all("Clockwork Fox" in hit.title for hit in hits)
    assert await catalog.search("zz") == []


async def test_http_fact_source() -> None:
    listing = bundled_listings()[3]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/listings/{listing['id']}":
            return httpx.Response(200, json=listing)
        if request.url.path == "/listings":
            return httpx.Response(200, json={"listings": [listing]})
        if request.url.path == "/listings/B0BROKEN00":
            return httpx.Response(500)
        return httpx.Response(404)

    source = HttpFactSource("http://catalog.test", transport=httpx.MockTransport(handler))
    assert (await source.lookup(listing["id"])) is not None
    assert await source.lookup("B0MISSING0") is None
    assert [item.id for item in await source.search("anything")] == [listing["id"]]
    with pytest.raises(FactSourceError):
        await source.lookup("B0BROKEN00")
    await source.aclose()


async def test_a_catalog_service_that_hangs_is_an_error_not_a_guess() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    source = HttpFactSource("http://catalog.test", transport=httpx.MockTransport(slow), timeout_s=0.2)
    with pytest.raises(FactSourceError, match="unreachable"):
        await source.lookup("B0ANYTHING")
    await source.aclose()
    assert json.dumps(bundled_listings()[0])  # the catalog file is plain JSON
