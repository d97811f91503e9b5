"""The shop's names in what people type: series (typos, abbreviations, initials), authors,
volumes and order ids. Fuzzy matching is rapidfuzz's; the names come from the catalog."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from sluicegate.routing.entities import Entities
from sluicegate.routing.signals import ORDER_ID
from sluicegate.routing.text import fold, words

# A whole name matches at this partial similarity (one or two typos in a long title); a single
# distinctive word of a name must be closer.
NAME_SCORE = 86.0
WORD_SCORE = 88.0
_STOPWORDS = {"the", "of", "at", "s", "and", "a", "de", "la", "el", "le", "les", "los", "del", "du", "des"}
_VOLUME = re.compile(
    r"\b(?:vol(?:ume)?|v|tomo|tome|book|no|#)\s*\.?\s*(\d{1,3})\b|\b(\d{1,3})(?:st|nd|rd|th)\b"
)
_TRAILING_NUMBER = re.compile(r"^\s*[#,:-]?\s*(\d{1,3})\b")


class CatalogEntities:
    def __init__(self, series: Iterable[str], authors: Iterable[str], order_ids: Iterable[str]) -> None:
        self._series = {fold(name): name for name in series}
        self._authors = {fold(name): name for name in authors}
        self._orders = {order_id.split("-")[-1]: order_id for order_id in order_ids}
        self._initials = {
            "".join(w[0] for w in words(folded)): name
            for folded, name in self._series.items()
            if len(words(folded)) >= 2
        }
        # A word that names one series only ("starlit", "cartographer"), to match it alone.
        counts = Counter(w for folded in self._series for w in set(words(folded)))
        self._distinctive = {
            w: name
            for folded, name in self._series.items()
            for w in words(folded)
            if counts[w] == 1 and len(w) >= 5 and w not in _STOPWORDS
        }

    def match(self, text: str) -> Entities:
        folded = fold(text)
        series, end = self._find_series(folded)
        author = self._find_author(folded)
        return Entities(
            series=series,
            author=author,
            volume=self._find_volume(folded, end),
            order_id=self._find_order(folded),
        )

    def _find_series(self, folded: str) -> tuple[str | None, int]:
        """The series named, and where its name ends in the text (a bare number after it is the
        volume: "crimson ronin 3")."""
        best = process.extractOne(
            folded, list(self._series), scorer=fuzz.partial_ratio, score_cutoff=NAME_SCORE
        )
        if best is not None and len(best[0]) >= 6:
            alignment = fuzz.partial_ratio_alignment(best[0], folded)
            end = alignment.dest_end if alignment is not None else len(folded)
            return self._series[best[0]], end
        tokens = list(re.finditer(r"[^\W_]+", folded))
        for token in tokens:
            if token.group() in self._initials and len(token.group()) >= 2:
                return self._initials[token.group()], token.end()
        for token in tokens:
            if len(token.group()) < 5:
                continue
            word = process.extractOne(
                token.group(), list(self._distinctive), scorer=fuzz.ratio, score_cutoff=WORD_SCORE
            )
            if word is not None:
                return self._distinctive[word[0]], token.end()
        return None, -1

    def _find_author(self, folded: str) -> str | None:
        best = process.extractOne(
            folded, list(self._authors), scorer=fuzz.partial_ratio, score_cutoff=NAME_SCORE
        )
        return self._authors[best[0]] if best is not None else None

    @staticmethod
    def _find_volume(folded: str, series_end: int) -> int | None:
        found = _VOLUME.search(folded)
        if found is not None:
            return int(found.group(1) or found.group(2))
        if series_end >= 0:
            trailing = _TRAILING_NUMBER.match(folded[series_end:])
            if trailing is not None:
                return int(trailing.group(1))
        return None

    def _find_order(self, folded: str) -> str | None:
        found = ORDER_ID.search(folded)
        if found is None:
            return None
        digits = found.group(1) or found.group(2) or re.sub(r"\D", "", found.group())
        # An id the table does not hold is still an order id: the tool answers that it has none.
        return self._orders.get(digits, f"ORD-{digits}")
