"""No wrong price on screen, ever: a scripted model invents amounts in every bait family
(historical, future, discount, totals, tax, shipping, currency conversion, editions the catalog
does not have, no product at all, the amount before the product) and, at every chunk boundary,
nothing but a catalog price of a product the answer names ever leaves the hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import regex

from sluicegate.demo.price_hold import AMOUNT, PriceHold
from sluicegate.demo.prices import PriceChecker
from sluicegate.factsources.catalog import SqliteCatalog, bundled_listings
from sluicegate.guardrails.facts import Listing
from sluicegate.pipeline.packs import Rendered

LISTINGS = [Listing.model_validate(item) for item in bundled_listings()]
ITEM = next(x for x in LISTINGS if x.currency == "USD")
OTHER = next(x for x in LISTINGS if x.currency == "USD" and x.series != ITEM.series)
PRICE = f"${ITEM.price:.2f}"
RIGHT = {f"${x.price:.2f}" for x in (ITEM, OTHER)}

BAITS = {
    "right": f"{ITEM.title} costs {PRICE}. Enjoy!",
    "invented": f"{ITEM.title} is only $3.50 this week!",
    "dollars": f"{ITEM.title} is just 3 dollars.",
    "usd": f"{ITEM.title}: USD 3.50, a steal.",
    "amount_first": f"For $3.50 you can get {ITEM.title}. Nice.",
    "previous_sentence": f"{ITEM.title} is in stock. It costs $3.50 today.",
    "historical": f"{ITEM.title} used to cost $4.99 last year.",
    "future": f"Next month {ITEM.title} will cost $19.99, I think.",
    "discount": f"{ITEM.title} is 20% off, so $7.99 now.",
    "total": f"{ITEM.title} and {OTHER.title} together come to $31.00.",
    "tax": f"{ITEM.title} is {PRICE} plus $1.20 tax.",
    "shipping": f"Shipping for {ITEM.title} is $5.99.",
    "conversion": f"{ITEM.title} is about €11.50 or £9.80.",
    "yen": f"{ITEM.title} costs 1,500 yen in Japan.",
    "edition": f"The deluxe hardcover edition of {ITEM.title} is $49.99.",
    "no_product": "Most of our volumes are around $9.99, give or take.",
}


@pytest.fixture
async def checker(tmp_path: Path) -> AsyncIterator[PriceChecker]:
    source = SqliteCatalog(tmp_path / "c.db")
    yield PriceChecker(source, LISTINGS)
    await source.aclose()


async def shown(checker: PriceChecker, chunks: list[str]) -> tuple[list[str], list[tuple[str, str]], bool]:
    hold = PriceHold(checker)
    pieces, hits = [], []
    for chunk in chunks:
        out = await hold.feed(Rendered(chunk))
        pieces.append(out.text)
        hits += out.hits
    last = await hold.finish()
    return [*pieces, last.text], hits + last.hits, hold.note_needed


def amounts(text: str) -> list[str]:
    return [m.group() for m in AMOUNT.finditer(text)]


@pytest.mark.parametrize("family", list(BAITS))
async def test_no_wrong_amount_leaves_the_hold_at_any_chunk_boundary(
    checker: PriceChecker, family: str
) -> None:
    answer = BAITS[family]
    for cut in range(1, len(answer)):
        pieces, _, _ = await shown(checker, [answer[:cut], answer[cut:]])
        for piece in pieces:
            assert all(a in RIGHT for a in amounts(piece)), (family, cut, piece)
        assert all(a in RIGHT for a in amounts("".join(pieces))), (family, cut)


async def test_a_right_price_is_released_and_a_wrong_one_replaced(checker: PriceChecker) -> None:
    pieces, hits, note = await shown(checker, [BAITS["right"]])
    assert "".join(pieces) == BAITS["right"]
    assert hits == []
    assert not note
    for family in ("invented", "dollars", "usd", "previous_sentence"):
        pieces, hits, _ = await shown(checker, list(BAITS[family]))  # one character per chunk
        assert PRICE in "".join(pieces), family
        assert hits == [("price.corrected", ITEM.id)], family


@pytest.mark.parametrize(
    "family",
    ["historical", "future", "discount", "total", "shipping", "conversion", "yen", "edition", "no_product"],
)
async def test_an_unverifiable_amount_is_stripped_with_the_pricing_note(
    checker: PriceChecker, family: str
) -> None:
    pieces, hits, note = await shown(checker, [BAITS[family]])
    assert amounts("".join(pieces)) == []
    assert note
    assert hits
    assert all(rule == "price.unverifiable" for rule, _ in hits)


async def test_a_catalog_price_before_its_product_waits_for_the_product(checker: PriceChecker) -> None:
    right = f"For {PRICE} you can get {ITEM.title}. Nice."
    pieces, hits, note = await shown(checker, list(right))
    assert "".join(pieces) == right
    assert hits == []
    assert not note
    wrong_product = f"For ${OTHER.price:.2f} you can get {ITEM.title}. Nice."
    if OTHER.price != ITEM.price:
        pieces, hits, _ = await shown(checker, list(wrong_product))
        assert "".join(pieces) == right
        assert hits == [("price.corrected", ITEM.id)]


async def test_only_the_text_from_an_amount_on_waits(checker: PriceChecker) -> None:
    hold = PriceHold(checker)
    first = await hold.feed(Rendered("No product here. Prices start at $"))
    assert first.text == "No product here. Prices start at "
    second = await hold.feed(Rendered(f"{ITEM.price:.2f} for most volumes"))
    assert second.text == ""  # no product named yet: held until the sentence ends
    third = await hold.feed(Rendered(". Ask me about a series!"))
    assert regex.search(r"\d", third.text) is None
    assert third.text.endswith("Ask me about a series!")
