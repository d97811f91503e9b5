"""The listing trust filter over the bundled catalog."""

from __future__ import annotations

from datetime import date

from sluicegate.config.schema import TrustConfig
from sluicegate.factsources.catalog import bundled_listings
from sluicegate.guardrails.facts import Listing
from sluicegate.guardrails.trust import TrustFilter

TODAY = date(2026, 11, 1)
LISTINGS = [Listing.model_validate(item) for item in bundled_listings()]


def test_low_and_missing_scores_are_filtered() -> None:
    allowed, filtered = TrustFilter(TrustConfig()).split(LISTINGS, TODAY)
    assert len(allowed) + len(filtered) == len(LISTINGS)
    assert all((item.listing_trust_score or 0) >= 0.7 for item in allowed)
    missing = [v for v in filtered if v.listing.listing_trust_score is None]
    assert missing
    assert all(v.score == 0.5 and "no trust score" in v.reason for v in missing)
    assert any("trust score 0." in v.reason for v in filtered)


def test_thresholds_come_from_config() -> None:
    lenient = TrustFilter(TrustConfig(threshold=0.3, missing_default=0.6))
    allowed, filtered = lenient.split(LISTINGS, TODAY)
    assert filtered == []
    assert len(allowed) == len(LISTINGS)


def test_new_sellers_are_flagged_whatever_their_score() -> None:
    verdicts = [TrustFilter(TrustConfig()).judge(item, TODAY) for item in LISTINGS]
    new = [v for v in verdicts if v.new_seller]
    assert new
    assert all((TODAY - v.listing.seller_since).days < 30 for v in new)
    old = [v for v in verdicts if not v.new_seller]
    assert all((TODAY - v.listing.seller_since).days >= 30 for v in old)
