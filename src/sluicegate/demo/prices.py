"""Post-stream checks (seed 000 ADR-001, phase 1): after the stream, every currency amount the
model wrote itself is mapped to the nearest product mention (by character distance) and compared
with the fact source. A wrong price becomes a correction (the real price, or the amount struck
out, per configuration); a price near no known product is unverifiable and struck out. A
product id that does not exist is struck out too. Amounts the resolver wrote from placeholders
are facts already and are not checked again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import regex

from sluicegate.errors import FactSourceError
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.pipeline.packs import Correction

AMOUNT = regex.compile(r"(?<![\w$])(?:US)?\$\s?(\d{1,6}(?:,\d{3})*(?:\.\d{1,2})?)(?!\d)")
LISTING_ID = regex.compile(r"(?<![A-Za-z0-9])B0[A-Z0-9]{8}(?![A-Za-z0-9])")


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    listing: Listing


class PriceChecker:
    def __init__(
        self,
        facts: FactSource,
        catalog_titles: Sequence[Listing] = (),
        on_mismatch: Literal["replace", "strip"] = "replace",
    ) -> None:
        self._facts = facts
        self._titles = [(item.title.lower(), item) for item in catalog_titles]
        self._on_mismatch = on_mismatch
        self.prices = frozenset(round(item.price, 2) for item in catalog_titles)  # every catalog price
        by_series: dict[str, dict[int, Listing]] = {}
        for listing in catalog_titles:
            by_series.setdefault(listing.series.lower(), {})[listing.volume] = listing
        # Compiled once: the check runs on every answer.
        self._series = [(_series_pattern(series), volumes) for series, volumes in by_series.items()]

    async def check(self, text: str, trusted_spans: Sequence[tuple[int, int]] = ()) -> list[Correction]:
        if AMOUNT.search(text) is None and LISTING_ID.search(text) is None:
            return []  # nothing to check: most answers quote no price and no product id
        mentions, corrections = await self._mentions(text)
        for found in AMOUNT.finditer(text):
            start, end = found.span()
            if any(s <= start and end <= e for s, e in trusted_spans):
                continue
            said = float(found.group(1).replace(",", ""))
            nearest = min(mentions, key=lambda m: distance(text, m, start, end), default=None)
            if nearest is None:
                corrections.append(
                    Correction(start, end, "", f"unverifiable price {found.group(0)}: no product nearby")
                )
            elif abs(nearest.listing.price - said) >= 0.005:
                real = f"${nearest.listing.price:.2f}"
                replacement = real if self._on_mismatch == "replace" else ""
                corrections.append(
                    Correction(
                        start,
                        end,
                        replacement,
                        f"price mismatch for {nearest.listing.id}: said {found.group(0)}, catalog {real}",
                    )
                )
        return sorted(corrections, key=lambda c: c.start)

    async def mentions(self, text: str) -> list[Mention]:
        """The products `text` names (ids, titles, series with a volume); unknown ids are not."""
        found, _ = await self._mentions(text)
        return found

    async def _mentions(self, text: str) -> tuple[list[Mention], list[Correction]]:
        mentions: list[Mention] = []
        corrections: list[Correction] = []
        for found in LISTING_ID.finditer(text):
            try:
                listing = await self._facts.lookup(found.group(0))
            except FactSourceError:
                continue
            if listing is None:
                corrections.append(
                    Correction(found.start(), found.end(), "", f"unknown product id {found.group(0)}")
                )
            else:
                mentions.append(Mention(found.start(), found.end(), listing))
        lowered = text.lower()
        for title, listing in self._titles:
            position = lowered.find(title)
            if position >= 0:
                mentions.append(Mention(position, position + len(title), listing))
        mentions += self._series_mentions(text)
        return mentions, corrections

    def _series_mentions(self, text: str) -> list[Mention]:
        """People (and models) say "volume 2 of Clockwork Fox" or "Clockwork Fox vol 2", not the
        catalog's exact title: a series name with a volume number next to it is a mention too."""
        found: list[Mention] = []
        for pattern, volumes in self._series:
            for match in pattern.finditer(text):
                volume = int(match.group("before") or match.group("after"))
                if volume in volumes:
                    found.append(Mention(match.start(), match.end(), volumes[volume]))
        return found


SENTENCE_BREAK = regex.compile(r"[.;!?\n](?:\s|$)")


def _series_pattern(series: str) -> regex.Pattern[str]:
    name = regex.escape(series)
    return regex.compile(
        rf"(?:vol(?:ume)?\.?\s*(?P<before>\d+)\s+of\s+{name})|(?:{name}[,:]?\s+vol(?:ume)?\.?\s*(?P<after>\d+))",
        regex.IGNORECASE,
    )


def distance(text: str, mention: Mention, start: int, end: int) -> int:
    """Characters between a product mention and an amount. A price usually follows its product
    and stays in its sentence, so a mention after the amount counts double, and one across a
    sentence break counts a hundred more."""
    if mention.end <= start:
        gap, between = start - mention.end, text[mention.end : start]
    elif end <= mention.start:
        gap, between = 2 * (mention.start - end), text[end : mention.start]
    else:
        return 0
    return gap + (100 if SENTENCE_BREAK.search(between) else 0)
