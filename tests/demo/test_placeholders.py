"""Placeholders resolved from the catalog as the stream arrives, at any chunk boundary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.config.schema import TrustConfig
from sluicegate.demo.placeholders import PRICING_NOTE, PlaceholderResolver
from sluicegate.factsources.catalog import SqliteCatalog, bundled_listings
from sluicegate.factsources.http import HttpFactSource
from sluicegate.guardrails.facts import Listing
from sluicegate.guardrails.trust import TrustFilter
from sluicegate.pipeline.packs import Rendered

TODAY = date(2026, 11, 1)
LISTINGS = [Listing.model_validate(item) for item in bundled_listings()]
TRUSTED = next(x for x in LISTINGS if (x.listing_trust_score or 0) >= 0.8 and x.stock > 0)
UNTRUSTED = next(x for x in LISTINGS if x.listing_trust_score is not None and x.listing_trust_score < 0.7)


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[SqliteCatalog]:
    source = SqliteCatalog(tmp_path / "catalog.db")
    yield source
    await source.aclose()


async def run(resolver: PlaceholderResolver, pieces: list[str]) -> Rendered:
    total = Rendered()
    for piece in pieces:
        part = await resolver.feed(piece)
        assert "{{" not in part.text, "a placeholder must never be shown half-written"
        total.text += part.text
        total.cards += part.cards
        total.hits += part.hits
    last = await resolver.finish()
    return Rendered(total.text + last.text, total.cards + last.cards, total.hits + last.hits)


def resolver_for(source: object, timeout_s: float = 0.2) -> PlaceholderResolver:
    return PlaceholderResolver(source, TrustFilter(TrustConfig()), today=TODAY, timeout_s=timeout_s)  # type: ignore[arg-type]


async def test_price_stock_and_card(catalog: SqliteCatalog) -> None:
    ref = TRUSTED.id
    text = f"{TRUSTED.title} costs {{{{PRICE:{ref}}}}} and is {{{{STOCK:{ref}}}}}. {{{{CARD:{ref}}}}}"
    result = await run(resolver_for(catalog), [text])
    assert f"costs ${TRUSTED.price:.2f} and is in stock ({TRUSTED.stock} left). " in result.text
    assert [card["id"] for card in result.cards] == [TRUSTED.id]
    assert result.cards[0]["trust_signals"]["seller"] == TRUSTED.seller


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(1, 40), max_size=6))
def test_any_chunk_boundaries_give_the_same_answer(cuts: set[int]) -> None:
    async def check() -> None:
        source = SqliteCatalog(Path(__import__("tempfile").mkdtemp()) / "c.db")
        # Loading the 320 listings is not what is timed: the resolver's 200 ms fallback would
        # take it for a slow fact source on a loaded machine (the assistant searches first).
        await source.lookup(TRUSTED.id)
        text = f"Only {{{{PRICE:{TRUSTED.id}}}}} today"
        points = sorted(c for c in cuts if c < len(text))
        pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
        result = await run(resolver_for(source), pieces)
        assert result.text == f"Only ${TRUSTED.price:.2f} today"
        await source.aclose()

    asyncio.run(check())


async def test_unknown_id_gives_no_value_and_a_hit(catalog: SqliteCatalog) -> None:
    result = await run(resolver_for(catalog), ["Price: {{PRICE:B0NOTREAL0}}."])
    assert result.text == "Price: ."
    assert result.hits == [("placeholder.unknown_id", "B0NOTREAL0")]


async def test_untrusted_listings_are_never_carded(catalog: SqliteCatalog) -> None:
    result = await run(resolver_for(catalog), [f"See {{{{CARD:{UNTRUSTED.id}}}}}"])
    assert result.cards == []
    assert result.hits == [("trust_filter", UNTRUSTED.id)]


async def test_a_slow_fact_source_removes_prices_and_adds_the_note() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.5)
        return httpx.Response(200, json=bundled_listings()[0])

    source = HttpFactSource("http://catalog.test", transport=httpx.MockTransport(slow))
    result = await run(resolver_for(source), [f"It is {{{{PRICE:{TRUSTED.id}}}}} now."])
    assert result.text == "It is  now." + PRICING_NOTE
    assert not any(ch.isdigit() for ch in result.text)
    await source.aclose()


async def test_text_that_only_looks_like_a_placeholder_is_released(catalog: SqliteCatalog) -> None:
    resolver = resolver_for(catalog)
    assert (await resolver.feed("a {{PRI")).text == "a "
    assert (await resolver.feed("ZE}} b")).text == "{{PRIZE}} b"
