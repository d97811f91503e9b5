"""No wrong price on screen, ever (beyond seed 000, which let a wrong price show until the
post-stream correction): a currency amount the model writes itself is held back in the stream,
as a partial PII match is, until it can be checked against the fact source for the product it
refers to — the product mention before it, or, when there is none, one after it before the
sentence ends. Then it is released if right, replaced with the catalog's price if wrong, and
stripped (with the pricing note at the end) when it cannot be verified: no product, another
currency, or a qualified amount (a total, tax, shipping, a discount, a past or future price, an
edition the catalog does not have). An amount with no product before it that is no catalog price
at all is stripped at once: no product named later could make it right. Only the text from an
amount on waits; amounts the placeholders wrote are facts and pass. What cannot be checked
inline is still corrected after the stream (prices.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import regex

from sluicegate.demo.prices import Mention, PriceChecker, distance
from sluicegate.pipeline.packs import Rendered

_NUMBER = r"\d{1,6}(?:,\d{3})*(?:\.\d{1,2})?"
_FOREIGN = r"€|£|¥|EUR|GBP|JPY|CAD|AUD|C\$|A\$|euros?|pounds?|yen"
# A currency amount in any common form: the sign before or the unit after the number.
AMOUNT = regex.compile(
    rf"(?<![\w$€£¥.,])(?:(?P<sign>US\$|C\$|A\$|\$|USD\s?|€|£|¥|EUR\s?|GBP\s?|JPY\s?)\s?(?P<n1>{_NUMBER})"
    rf"|(?P<n2>{_NUMBER})\s?(?P<unit>USD|dollars?|bucks|{_FOREIGN})(?![\w]))(?!\d|[.,]\d)",
    regex.IGNORECASE,
)
_FOREIGN_SIGN = regex.compile(rf"^(?:{_FOREIGN})", regex.IGNORECASE)
_FOREIGN_UNIT = regex.compile(rf"(?:{_FOREIGN})\s*$", regex.IGNORECASE)
# A sentence ends at . ! ? or a line break — not at the full stop of "Vol." or "No.".
SENTENCE_END = regex.compile(r"(?<!\b(?i:vol|no|nos|vs|mr|mrs|ms|dr|st|approx|ca|e\.g|i\.e))[.!?](?:\s|$)|\n")
# Words that make an amount something other than the product's price today.
QUALIFIED = regex.compile(
    r"\b(?:total|totals|altogether|together|both|all\s+\d+|sum|tax|taxes|vat|shipping|delivery|postage|"
    r"discount|discounted|off|sale|coupon|promo|save|saving|savings|was|were|used\s+to|previously|"
    r"last\s+(?:year|month|week)|next\s+(?:year|month|week)|later|future|will\s+(?:be|cost|rise|drop)|"
    r"convert|converted|conversion|exchange|edition|hardcover|deluxe|box\s+set|omnibus|collector'?s?|"
    r"bundle|set\s+of|plus|subtotal|fee)\b",
    regex.IGNORECASE,
)


NEAR_CHARS = 300  # how far back a product mention may be and still be the amount's


@dataclass
class PriceHold:
    checker: PriceChecker
    on_mismatch: Literal["replace", "strip"] = "replace"
    shown: str = ""  # what was released so far
    note_needed: bool = False  # an amount was stripped: the answer ends with the pricing note
    _text: str = ""  # held text
    _facts: list[tuple[int, int]] = field(default_factory=list)  # spans of `_text` the pack wrote

    @property
    def held(self) -> str:
        """The text waiting for a decision."""
        return self._text

    async def feed(self, piece: Rendered) -> Rendered:
        """Cards and hits pass at once (a card's price is the catalog's); text waits near amounts."""
        shift = len(self._text)
        self._text += piece.text
        self._facts += [(s + shift, e + shift) for s, e in piece.facts]
        out = await self._drain(final=False)
        return Rendered(out.text, piece.cards, piece.hits + out.hits, out.facts)

    async def finish(self) -> Rendered:
        return await self._drain(final=True)

    async def _drain(self, *, final: bool) -> Rendered:
        out = Rendered()
        while True:
            found, release = self._next_amount(final)
            if found is None:
                return out.then(self._release(release))
            start, end = found.span()
            out = out.then(self._release(start))
            decided = await self._decide(found.group(), end - start, final)
            if decided is None:
                return out  # wait for more of the sentence
            self._drop(end - start)
            self.shown += decided.text
            out = out.then(decided)

    def _release(self, end: int) -> Rendered:
        released = Rendered(self._text[:end], facts=[(s, e) for s, e in self._facts if e <= end])
        self._drop(end)
        self.shown += released.text
        return released

    def _drop(self, end: int) -> None:
        self._text = self._text[end:]
        self._facts = [(s - end, e - end) for s, e in self._facts if s >= end]

    def _next_amount(self, final: bool) -> tuple[regex.Match[str] | None, int]:
        """The first complete amount the model wrote itself, or None and how far the text may be
        released (up to what may still become or grow an amount: "$12" may yet be "$12.99")."""
        for found in AMOUNT.finditer(self._text, partial=not final):
            start, end = found.span()
            if found.partial:
                return None, int(start)
            if any(s <= start and end <= e for s, e in self._facts):
                continue
            if not final and AMOUNT.fullmatch(self._text, pos=start, partial=True) is not None:
                return None, int(start)
            return found, int(start)
        return None, len(self._text)

    async def _decide(self, said: str, length: int, final: bool) -> Rendered | None:
        """The amount at the start of the held text, checked; None: not decidable yet."""
        at = len(self.shown)
        text = self.shown + self._text
        before = self.shown[_sentence_start(self.shown) :]
        after_end = SENTENCE_END.search(self._text, length)
        after = self._text[length : after_end.start() if after_end else len(self._text)]
        if _is_foreign(said) or QUALIFIED.search(before) or QUALIFIED.search(after):
            return self._strip("price.unverifiable", "")
        mentions = await self.checker.mentions(text)
        near = [m for m in mentions if m.end <= at and at - m.end <= NEAR_CHARS]
        value = _value(said)
        if not near:
            if value not in self.checker.prices:
                return self._strip("price.unverifiable", "")  # no product's price: no need to wait
            if after_end is None and not final:
                return None  # no product named yet: one may follow before the sentence ends
            limit = at + (after_end.start() if after_end else len(self._text))
            near = [m for m in mentions if at + length <= m.start and m.end <= limit]
        if not near:
            return self._strip("price.unverifiable", "")
        nearest: Mention = min(near, key=lambda m: distance(text, m, at, at + length))
        if nearest.listing.currency == "USD" and abs(nearest.listing.price - value) < 0.005:
            return Rendered(said, facts=[(0, length)])
        if self.on_mismatch == "strip":
            return self._strip("price.corrected", nearest.listing.id)
        real = f"${nearest.listing.price:.2f}"
        return Rendered(real, hits=[("price.corrected", nearest.listing.id)], facts=[(0, len(real))])

    def _strip(self, rule: str, listing_id: str) -> Rendered:
        self.note_needed = True
        return Rendered("", hits=[(rule, listing_id)])


def _value(said: str) -> float:
    digits = regex.sub(r"[^\d.]", "", said.replace(",", ""))
    try:
        return round(float(digits), 2)
    except ValueError:
        return float("nan")


def _sentence_start(text: str) -> int:
    last = 0
    for found in SENTENCE_END.finditer(text):
        last = found.end()
    return last


def _is_foreign(said: str) -> bool:
    stripped = said.strip()
    return _FOREIGN_SIGN.match(stripped) is not None or _FOREIGN_UNIT.search(stripped) is not None
