"""Post-stream price checks: hallucinated prices are corrected, unverifiable ones struck out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sluicegate.demo.prices import PriceChecker
from sluicegate.factsources.catalog import SqliteCatalog, bundled_listings
from sluicegate.guardrails.facts import Listing
from sluicegate.pipeline.packs import apply

LISTINGS = [Listing.model_validate(item) for item in bundled_listings()]
ITEM = LISTINGS[5]


@pytest.fixture
async def checker(tmp_path: Path) -> AsyncIterator[PriceChecker]:
    source = SqliteCatalog(tmp_path / "c.db")
    yield PriceChecker(source, LISTINGS)
    await source.aclose()


async def test_a_hallucinated_price_is_corrected(checker: PriceChecker) -> None:
    text = f"{ITEM.title} is only $3.50 this week!"
    corrections = await checker.check(text)
    assert len(corrections) == 1
    fix = corrections[0]
    assert text[fix.start : fix.end] == "$3.50"
    assert fix.text == f"${ITEM.price:.2f}"
    assert "price mismatch" in fix.reason
    assert apply(text, corrections) == f"{ITEM.title} is only ${ITEM.price:.2f} this week!"


async def test_the_right_price_and_resolved_prices_pass(checker: PriceChecker) -> None:
    right = f"{ITEM.title} costs ${ITEM.price:.2f}."
    assert await checker.check(right) == []
    resolved = f"It costs ${ITEM.price + 1:.2f}"  # written by the resolver from a placeholder
    assert await checker.check(resolved, trusted_spans=[(9, len(resolved))]) == []


async def test_a_price_near_no_product_is_struck_out(checker: PriceChecker) -> None:
    corrections = await checker.check("Most volumes are around $10 these days.")
    assert [(c.text, c.reason.split(":")[0]) for c in corrections] == [("", "unverifiable price $10")]


async def test_nearest_product_by_distance(checker: PriceChecker) -> None:
    other = LISTINGS[6]
    text = f"{ITEM.title} is ${ITEM.price:.2f}; {other.title} is $1.00."
    corrections = await checker.check(text)
    assert len(corrections) == 1
    assert other.id in corrections[0].reason


async def test_unknown_ids_are_struck_out(checker: PriceChecker) -> None:
    corrections = await checker.check(f"Try B0NOTREAL0 or {ITEM.id}.")
    assert [c.reason for c in corrections] == ["unknown product id B0NOTREAL0"]


@pytest.mark.parametrize("phrase", ["Volume {v} of {s}", "{s} vol. {v}", "{s}, Volume {v}"])
async def test_series_and_volume_are_a_mention(checker: PriceChecker, phrase: str) -> None:
    mention = phrase.format(v=ITEM.volume, s=ITEM.series.lower())
    corrections = await checker.check(f"So {mention} is approximately $27.58 in dollars.")
    assert [c.text for c in corrections] == [f"${ITEM.price:.2f}"]
