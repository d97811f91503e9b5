"""Listings of the bundled demo catalog that the shop tests (the assistant door, the web pages)
write their scripted replies about."""

from __future__ import annotations

from typing import Any

from sluicegate.factsources.catalog import bundled_listings

TRUSTED = 0.8  # comfortably above the trust filter's default threshold (0.7): their cards are shown


def two_trusted_listings() -> tuple[dict[str, Any], dict[str, Any]]:
    """A trusted listing in stock, and a trusted one of another series."""
    listings = bundled_listings()
    good = next(x for x in listings if (x["listing_trust_score"] or 0) >= TRUSTED and x["stock"] > 0)
    other = next(
        x for x in listings if x["series"] != good["series"] and (x["listing_trust_score"] or 0) >= TRUSTED
    )
    return good, other
