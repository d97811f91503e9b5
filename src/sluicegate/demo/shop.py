"""The manga shop, as a domain pack (seed 000): a persona, a placeholder prompt over catalog facts
that are trust-filtered and fenced, placeholders resolved as they stream, and price checks after
the stream. The embedded default enables it; a gateway configured for another business does not.

    RETRIEVAL     the catalog's listings that match the question, trusted ones only, fenced
    LLM_CALL      placeholders resolved as they close (cards, prices, stock)
    LLM_CALL      the model's own amounts held until checked (price_hold.py); leaks of the prompt
    POST_STREAM   the canary check (conversation turns), price and product-id checks → corrections
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sluicegate.audit.events import TrustFilter as TrustFilterEvent
from sluicegate.config.schema import TrustConfig
from sluicegate.demo.placeholders import PRICING_NOTE, SYSTEM_PROMPT, PlaceholderResolver
from sluicegate.demo.price_hold import PriceHold
from sluicegate.demo.prices import LISTING_ID, PriceChecker
from sluicegate.errors import FactSourceError, FenceViolation
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.guardrails.fence import FenceWrapper, OutputWatch
from sluicegate.guardrails.leak import PromptEcho
from sluicegate.guardrails.trust import TrustFilter
from sluicegate.memory.sessions import SessionStore
from sluicegate.pipeline.packs import Correction, Rendered, Report

LEAK = "the answer reproduces the assistant's instructions (a system-prompt leak)"
PERSONA = "You are the shop assistant of a manga store. Answer briefly and only about the store's products."


@dataclass
class ShopTurn:
    system_prompt: str
    resolver: PlaceholderResolver
    fence: FenceWrapper
    report: Report
    threshold: float
    echo: PromptEcho  # the persona and instructions, reproduced verbatim: a leak
    hold: PriceHold  # the model's own amounts wait in the stream until checked
    watch: OutputWatch  # a fence marker or the canary ends the stream before it is shown

    async def feed(self, text: str) -> Rendered:
        if self.echo.feed(text):
            raise FenceViolation(LEAK)
        return self._reported(await self.hold.feed(await self.resolver.feed(self.watch.feed(text))))

    async def finish(self) -> Rendered:
        if self.echo.finish():
            raise FenceViolation(LEAK)
        rendered = await self.hold.feed(await self.resolver.feed(self.watch.finish()))
        rendered = rendered.then(await self.hold.feed(await self.resolver.finish()))
        rendered = rendered.then(await self.hold.finish())
        if self.hold.note_needed and not self.resolver.pricing_unavailable:
            rendered = rendered.then(Rendered(PRICING_NOTE))
        return self._reported(rendered)

    def _reported(self, rendered: Rendered) -> Rendered:
        for rule, listing_id in rendered.hits:
            if rule == "trust_filter":
                reason = "below the trust threshold: not carded"
                self.report(
                    TrustFilterEvent(
                        listing_id=listing_id, score=None, threshold=self.threshold, reason=reason
                    )
                )
        return rendered

    def check_output(self, text: str) -> None:
        self.fence.check_output(text)


class ShopPack:
    name = "shop"

    def __init__(
        self,
        facts: FactSource,
        catalog: Sequence[Listing],
        *,
        trust: TrustConfig,
        sessions: SessionStore,
        context_listings: int,
        price_mismatch: Literal["replace", "strip"],
    ) -> None:
        self.facts = facts
        self._trust = trust
        self._sessions = sessions
        self._context_listings = context_listings
        self._checker = PriceChecker(facts, catalog, price_mismatch)
        self._price_mismatch = price_mismatch

    async def open_turn(self, question: str, report: Report) -> ShopTurn:
        today = date.today()
        trust = TrustFilter(self._trust)
        fence = FenceWrapper()
        context = await self._context(question, trust, today, fence, report)
        instructions = f"{PERSONA}\n{SYSTEM_PROMPT}\n{fence.instructions()}"
        resolver = PlaceholderResolver(self.facts, trust, today=today)
        echo = PromptEcho(instructions)
        hold = PriceHold(self._checker, self._price_mismatch)
        prompt = f"{instructions}\n{context}"
        watch = OutputWatch(fence)
        return ShopTurn(prompt, resolver, fence, report, self._trust.threshold, echo, hold, watch)

    async def check(self, text: str, trusted: Sequence[tuple[int, int]] = ()) -> list[Correction]:
        return await self._checker.check(text, trusted)

    def entities(self, text: str) -> list[str]:
        return list(dict.fromkeys(LISTING_ID.findall(text)))

    async def aclose(self) -> None:
        await self.facts.aclose()

    async def _context(
        self, question: str, trust: TrustFilter, today: date, fence: FenceWrapper, report: Report
    ) -> str:
        """The catalog's listings that match the question, trusted ones only, fenced (their
        descriptions come from sellers)."""
        try:
            found = await self.facts.search(_keywords(question), limit=self._context_listings)
        except FactSourceError:
            return "The catalog is unavailable right now."
        allowed, filtered = trust.split(found, today)
        await self._sample_new_sellers(allowed, trust, today)
        for verdict in filtered:
            report(
                TrustFilterEvent(
                    listing_id=verdict.listing.id,
                    score=verdict.listing.listing_trust_score,
                    threshold=trust.threshold,
                    reason=verdict.reason,
                )
            )
        if not allowed:
            return "No matching products."
        lines = "\n".join(
            f"- id {item.id}: {item.title} by {item.author}. {item.description}" for item in allowed
        )
        return "Products you may recommend:\n" + fence.wrap(lines, source="catalog", budget_chars=4000)

    async def _sample_new_sellers(self, listings: list[Listing], trust: TrustFilter, today: date) -> None:
        """Sellers younger than 30 days go to a review sample for humans (seed 000 ADR-007)."""
        fresh = [item for item in listings if trust.judge(item, today).new_seller]
        if fresh:
            await self._sessions.sample_for_review([item.model_dump(mode="json") for item in fresh])


def _keywords(question: str) -> str:
    return " ".join(re.findall(r"[A-Za-z0-9']+", question))
