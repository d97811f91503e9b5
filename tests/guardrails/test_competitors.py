"""Competitors as customers name them: the default list covers retailers and marketplaces,
bookstore chains and manga specialty stores, with common variants and their web addresses (a
URL masked whole); a name that is also a word is matched only as written; the list stays
configurable and seed 000's names stay on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.config.competitors import DEFAULT_COMPETITORS, Competitor
from sluicegate.config.schema import GuardrailsConfig
from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.inline import StreamScanner

GUARD = InlineGuard(GuardrailsConfig())


def redacted(text: str) -> str:
    return GUARD.scan(text).text


def test_seed_names_stay_on_the_default_list() -> None:
    names = [c if isinstance(c, str) else c.name for c in DEFAULT_COMPETITORS]
    assert names[:2] == ["Barnes & Noble", "Books-A-Million"]
    assert {"Amazon", "eBay", "Walmart", "Waterstones", "Kinokuniya", "Right Stuf", "Book Depository"} <= set(
        names
    )


@pytest.mark.parametrize(
    "name",
    [
        "Barnes & Noble",
        "Barnes and Noble",
        "barnes n noble",
        "B&N",
        "Books-A-Million",
        "Books a Million",
        "BooksAMillion",
        "Amazon",
        "amazon",
        "AMZN",
        "eBay",
        "Walmart",
        "Wal-Mart",
        "Target",
        "Best Buy",
        "AliExpress",
        "Book Depository",
        "Waterstones",
        "WH Smith",
        "Powell's",
        "Powells",
        "Half Price Books",
        "Kinokuniya",
        "Right Stuf",
        "RightStuf",
        "Crunchyroll",
        "Forbidden Planet",
        "BookWalker",
        "Book Walker",
        "Mandarake",
        "Book Off",
        "Kobo",
        "ComiXology",
    ],
)
def test_names_and_their_variants_are_masked(name: str) -> None:
    assert redacted(f"It is cheaper at {name}, honestly.") == "It is cheaper at [COMPETITOR], honestly."


@pytest.mark.parametrize(
    "url",
    [
        "https://www.amazon.com/dp/B0C1234567",
        "amazon.co.jp/gp/product/4088820000",
        "http://bn.com/w/chainsaw-man-vol-1",
        "www.barnesandnoble.com",
        "rightstufanime.com/catalog?q=frieren",
        "store.crunchyroll.com/products/x",
        "ebay.co.uk/itm/123",
    ],
)
def test_addresses_are_masked_whole(url: str) -> None:
    assert redacted(f"See {url} for it.") == "See [COMPETITOR] for it."


def test_a_name_that_is_a_word_is_matched_only_as_written() -> None:
    assert redacted("Our target date is the best buy of the season.") == (
        "Our target date is the best buy of the season."
    )
    assert redacted("Target and Best Buy stock it.") == "[COMPETITOR] and [COMPETITOR] stock it."


def test_a_url_split_over_chunks_is_masked_whole() -> None:
    scanner = GUARD.scanner()
    text = "Order at https://www.amazon.com/dp/B0C1234567 today."
    out = "".join(scanner.feed(text[i : i + 3]).text for i in range(0, len(text), 3)) + scanner.finish().text
    assert out == "Order at [COMPETITOR] today."


def test_the_list_is_configurable() -> None:
    config = GuardrailsConfig(
        competitors=[
            "Manga Corner",
            Competitor(name="Otaku Hut", aliases=["OH!"], domains=["otakuhut.example"]),
        ]
    )
    guard = InlineGuard(config)
    scanner: StreamScanner = guard.scanner()
    text = "Manga Corner, OH! and otakuhut.example/shop beat Amazon."
    out = scanner.feed(text).text + scanner.finish().text
    assert out == "[COMPETITOR], [COMPETITOR] and [COMPETITOR] beat Amazon."  # the default is replaced


SENTENCES = [
    "It is cheaper at Barnes and Noble, or B&N, or BooksAMillion.",
    "See https://www.amazon.com/dp/B0C1234567 and http://bn.com/x today.",
    "Powell's Books, Powells and Right Stuf Anime stock it; so does Book Off.",
    "Our target date: Target has it, and www.walmart.com too. Damn.",
    "Try Kinokuniya or Waterstones (waterstones.co.uk) or WH Smith.",
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SENTENCES), st.lists(st.integers(min_value=1, max_value=70), max_size=10))
def test_any_chunking_masks_what_the_whole_text_masks(sentence: str, cuts: list[int]) -> None:
    points = sorted({c for c in cuts if c < len(sentence)})
    chunks = [sentence[a:b] for a, b in zip([0, *points], [*points, len(sentence)], strict=True)]
    scanner = GUARD.scanner()
    out = "".join(scanner.feed(chunk).text for chunk in chunks) + scanner.finish().text
    assert out == redacted(sentence)
    assert "[COMPETITOR]" in out
