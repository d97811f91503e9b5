"""One assistant turn as typed frames (ARCHITECTURE §4): `token` (already through the inline
guardrails, placeholders resolved), `guardrail`, `card`, `correction`, `complete`, `error`.

    catalog facts for the question, trust-filtered, fenced into the prompt
    → the role's model, streamed through the inline guardrails (the chat service)
    → placeholders resolved as they close (cards, prices, stock)
    → after the stream: the canary check, price checks → corrections
    → the turn saved to the session
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sluicegate.assistant.sessions import SessionStore
from sluicegate.audit.events import Correction as CorrectionEvent
from sluicegate.audit.events import TrustFilter as TrustFilterEvent
from sluicegate.calltrace import current_trace
from sluicegate.config.schema import Config
from sluicegate.errors import FactSourceError, FenceViolation, GatewayError
from sluicegate.frames import error_frame
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.guardrails.fence import FenceWrapper
from sluicegate.guardrails.placeholders import SYSTEM_PROMPT, PlaceholderResolver, Resolved
from sluicegate.guardrails.poststream import LISTING_ID, PriceChecker, apply
from sluicegate.guardrails.trust import TrustFilter
from sluicegate.observability.recorder import Recorder
from sluicegate.service import ChatService
from sluicegate.types import (
    CardFrame,
    CompleteFrame,
    CompletionRequest,
    CorrectionFrame,
    Frame,
    GuardrailFrame,
    Message,
    TokenFrame,
    Usage,
)

PERSONA = "You are the shop assistant of a manga store. Answer briefly and only about the store's products."


@dataclass
class Assistant:
    config: Config
    chat: ChatService
    facts: FactSource
    sessions: SessionStore
    recorder: Recorder
    catalog: list[Listing]

    def __post_init__(self) -> None:
        self.checker = PriceChecker(self.facts, self.catalog, self.config.assistant.price_mismatch)

    @property
    def role(self) -> str:
        configured = self.config.assistant.role
        if configured:
            return configured
        return "assistant" if "assistant" in self.config.models else "reasoning"

    async def respond(self, session_id: str, content: str) -> AsyncIterator[Frame]:
        trace = current_trace()
        today = date.today()
        trust = TrustFilter(self.config.guardrails.trust)
        fence = FenceWrapper()
        session = await self.sessions.get(session_id)
        try:
            context = await self._context(content, trust, today, fence)
        except FenceViolation as exc:
            yield error_frame(exc)
            return
        messages = [Message("system", f"{PERSONA}\n{SYSTEM_PROMPT}\n{fence.instructions()}\n{context}")]
        messages += [Message(t["role"], t["content"]) for t in session["turns"]]
        messages.append(Message("user", content))
        route = self.chat.resolve(self.role)
        request = CompletionRequest(
            model=route.name, messages=tuple(messages), max_tokens=self.config.assistant.max_tokens
        )
        resolver = PlaceholderResolver(self.facts, trust, today=today)
        delivered, facts, usage = "", [], Usage()
        seen_hits = 0
        try:
            async for chunk in self.chat.stream(route, request, endpoint="/v1/assistant"):
                for hit in trace.guardrails[seen_hits:]:
                    yield _guardrail(hit)
                seen_hits = len(trace.guardrails)
                part = await resolver.feed(chunk.text) if chunk.text else Resolved()
                if chunk.finish_reason is not None:
                    usage = chunk.usage or usage
                    last = await resolver.finish()
                    part = _merge(part, last)
                for frame in self._frames(part, len(delivered), trace.guardrails):
                    yield frame
                seen_hits = len(trace.guardrails)  # the placeholder hits were just sent as frames
                facts += [(len(delivered) + s, len(delivered) + e) for s, e in part.facts]
                delivered += part.text
        except GatewayError as exc:
            yield error_frame(exc)
            return
        for hit in trace.guardrails[seen_hits:]:
            yield _guardrail(hit)
        try:
            fence.check_output(delivered)
        except FenceViolation as exc:
            self.recorder.guardrail(trace, "post", "canary", "block", (0, len(delivered)))
            yield error_frame(exc)
            return
        corrections = await self.checker.check(delivered, facts)
        for correction in corrections:
            span = (correction.start, correction.end)
            self.recorder.audit.emit(trace.trace_id, CorrectionEvent(replace=span, reason=correction.reason))
            yield CorrectionFrame(replace=span, text=correction.text, reason=correction.reason)
        final = apply(delivered, corrections)
        entities = list(dict.fromkeys(LISTING_ID.findall(final)))
        await self.sessions.append(session_id, content, final, entities)
        yield CompleteFrame(trace_id=trace.trace_id, route=f"explicit/{route.name}", usage=usage, text=final)

    async def findings(self, text: str) -> list[dict[str, Any]]:
        """The post-stream checks of an answer, as findings (for /v1/chat/completions, which
        cannot rewrite text it already sent: the findings ride on its final chunk)."""
        trace = current_trace()
        found = []
        for correction in await self.checker.check(text):
            span = (correction.start, correction.end)
            self.recorder.audit.emit(trace.trace_id, CorrectionEvent(replace=span, reason=correction.reason))
            found.append({"replace": list(span), "text": correction.text, "reason": correction.reason})
        return found

    def _frames(self, part: Resolved, offset: int, _: list[dict[str, Any]]) -> list[Frame]:
        frames: list[Frame] = []
        trace = current_trace()
        for rule, listing_id in part.hits:
            self.recorder.guardrail(trace, "placeholder", rule, "block", (offset, offset))
            if rule == "trust_filter":
                self.recorder.audit.emit(
                    trace.trace_id,
                    TrustFilterEvent(
                        listing_id=listing_id,
                        score=None,
                        threshold=self.config.guardrails.trust.threshold,
                        reason="below the trust threshold: not carded",
                    ),
                )
            frames.append(
                GuardrailFrame(
                    stage="placeholder", rule=rule, action="block", span=(offset, offset), listing=listing_id
                )
            )
        if part.text:
            frames.append(TokenFrame(part.text))
        frames += [CardFrame(card) for card in part.cards]
        return frames

    async def _context(self, question: str, trust: TrustFilter, today: date, fence: FenceWrapper) -> str:
        """The catalog's listings that match the question, trusted ones only, fenced (their
        descriptions come from sellers)."""
        try:
            found = await self.facts.search(_keywords(question), limit=self.config.assistant.context_listings)
        except FactSourceError:
            return "The catalog is unavailable right now."
        allowed, filtered = trust.split(found, today)
        trace = current_trace()
        await self._sample_new_sellers(allowed, trust, today)
        for verdict in filtered:
            self.recorder.audit.emit(
                trace.trace_id,
                TrustFilterEvent(
                    listing_id=verdict.listing.id,
                    score=verdict.listing.listing_trust_score,
                    threshold=trust.threshold,
                    reason=verdict.reason,
                ),
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
            await self.sessions.sample_for_review([item.model_dump(mode="json") for item in fresh])


def _guardrail(hit: dict[str, Any]) -> GuardrailFrame:
    start, end = hit["span"]
    return GuardrailFrame(stage=hit["stage"], rule=hit["rule"], action=hit["action"], span=(start, end))


def _merge(first: Resolved, second: Resolved) -> Resolved:
    shift = len(first.text)
    return Resolved(
        first.text + second.text,
        first.cards + second.cards,
        first.hits + second.hits,
        first.facts + [(s + shift, e + shift) for s, e in second.facts],
    )


def _keywords(question: str) -> str:
    return " ".join(re.findall(r"[A-Za-z0-9']+", question))
