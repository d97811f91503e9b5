"""The listing trust filter (seed 000 ADR-007): a listing whose trust score is below the threshold
is never recommended or carded; a missing score counts as `missing_default` (suspicious, not
trusted); a seller younger than 30 days is flagged for human review on a sample. Every filtered
listing is reported, so the caller can write it to the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sluicegate.config.schema import TrustConfig
from sluicegate.guardrails.facts import Listing

NEW_SELLER_DAYS = 30


@dataclass(frozen=True, slots=True)
class TrustVerdict:
    listing: Listing
    score: float  # the score used: the listing's, or missing_default
    allowed: bool
    new_seller: bool
    reason: str


class TrustFilter:
    def __init__(self, settings: TrustConfig) -> None:
        self.threshold = settings.threshold
        self.missing_default = settings.missing_default

    def judge(self, listing: Listing, today: date) -> TrustVerdict:
        missing = listing.listing_trust_score is None
        score = self.missing_default if missing else float(listing.listing_trust_score or 0.0)
        new_seller = (today - listing.seller_since).days < NEW_SELLER_DAYS
        if score < self.threshold:
            why = "no trust score (counted as {:.2f})" if missing else "trust score {:.2f}"
            reason = (why + " below {:.2f}").format(score, self.threshold)
            return TrustVerdict(listing, score, False, new_seller, reason)
        return TrustVerdict(listing, score, True, new_seller, "trusted")

    def split(self, listings: Sequence[Listing], today: date) -> tuple[list[Listing], list[TrustVerdict]]:
        """(the listings that may be shown, the verdicts on those that may not)."""
        allowed, filtered = [], []
        for listing in listings:
            verdict = self.judge(listing, today)
            if verdict.allowed:
                allowed.append(listing)
            else:
                filtered.append(verdict)
        return allowed, filtered
