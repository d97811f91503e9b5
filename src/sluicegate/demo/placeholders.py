"""Placeholders resolved from facts as they stream (seed 000 ADR-001, phase 2).

The assistant's prompt tells the model to write `{{PRICE:ID}}`, `{{STOCK:ID}}` and `{{CARD:ID}}`
and never a number for a price. As soon as a placeholder closes in the stream it is replaced
with the real value from the fact source; a card becomes a `card` frame (title, price, stock,
trust signals). Text that may still become a placeholder ("{{PRI") is held back, and only that.
An unknown id gives no value and a guardrail hit; a listing below the trust threshold is never
carded. A fact source slower than the timeout (200 ms) gives no price at all, and the answer
ends with "Check the product page for current pricing." — never a guessed price.
"""

from __future__ import annotations

import asyncio
from datetime import date

import regex

from sluicegate.errors import FactSourceError
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.guardrails.trust import TrustFilter
from sluicegate.pipeline.packs import Rendered

PLACEHOLDER = regex.compile(r"\{\{(PRICE|STOCK|CARD):([A-Za-z0-9]{10})\}\}")
PRICING_NOTE = " Check the product page for current pricing."
SYSTEM_PROMPT = (
    "When you mention a product's price write {{PRICE:ID}}, for its stock write {{STOCK:ID}}, and to "
    "show a product card write {{CARD:ID}}, where ID is the product's 10-character id. Never write a "
    "price, a currency amount or a stock count yourself."
)


def format_price(listing: Listing) -> str:
    return f"${listing.price:.2f}" if listing.currency == "USD" else f"{listing.price:.2f} {listing.currency}"


def format_stock(listing: Listing) -> str:
    return f"in stock ({listing.stock} left)" if listing.stock > 0 else "out of stock"


class PlaceholderResolver:
    def __init__(self, facts: FactSource, trust: TrustFilter, *, today: date, timeout_s: float = 0.2) -> None:
        self._facts = facts
        self._trust = trust
        self._today = today
        self._timeout_s = timeout_s
        self._pending = ""
        self._known: dict[str, Listing | None] = {}
        self.pricing_unavailable = False

    async def feed(self, text: str) -> Rendered:
        self._pending += text
        return await self._drain(final=False)

    async def finish(self) -> Rendered:
        result = await self._drain(final=True)
        if self.pricing_unavailable:
            result.text += PRICING_NOTE
        return result

    async def _drain(self, *, final: bool) -> Rendered:
        result = Rendered()
        pending, cursor = self._pending, 0
        for found in PLACEHOLDER.finditer(pending):
            result.text += pending[cursor : found.start()]
            await self._resolve(found.group(1), found.group(2).upper(), result)
            cursor = found.end()
        hold = len(pending)
        if not final:
            partial = PLACEHOLDER.search(pending, pos=cursor, partial=True)
            if partial is not None and partial.partial:
                hold = partial.start()
        result.text += pending[cursor:hold]
        self._pending = pending[hold:]
        return result

    async def _resolve(self, kind: str, listing_id: str, result: Rendered) -> None:
        answered, listing = await self._lookup(listing_id)
        if not answered:
            return  # the fact source is down or slow: no value, and the pricing note at the end
        if listing is None:
            result.hits.append(("placeholder.unknown_id", listing_id))
            return
        if kind in ("PRICE", "STOCK"):
            value = format_price(listing) if kind == "PRICE" else format_stock(listing)
            result.facts.append((len(result.text), len(result.text) + len(value)))
            result.text += value
        else:
            verdict = self._trust.judge(listing, self._today)
            if not verdict.allowed:
                result.hits.append(("trust_filter", listing_id))
                return
            result.cards.append(
                {
                    "id": listing.id,
                    "title": listing.title,
                    "price": listing.price,
                    "currency": listing.currency,
                    "stock": listing.stock,
                    "trust_signals": {
                        "score": verdict.score,
                        "seller": listing.seller,
                        "seller_since": listing.seller_since.isoformat(),
                        "new_seller": verdict.new_seller,
                    },
                }
            )

    async def _lookup(self, listing_id: str) -> tuple[bool, Listing | None]:
        """(did the fact source answer, the listing if there is one)."""
        if listing_id in self._known:
            return True, self._known[listing_id]
        try:
            async with asyncio.timeout(self._timeout_s):
                listing = await self._facts.lookup(listing_id)
        except (TimeoutError, FactSourceError):
            # Better no price than a wrong one: the answer will point to the product page.
            self.pricing_unavailable = True
            return False, None
        self._known[listing_id] = listing
        return True, listing
