"""Price baits through the guarded assistant: a scripted model invents amounts in every bait
family, and no wrong amount ever appears in a `token` frame — what the user sees, even for a
moment; the `complete` text agrees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sluicegate.demo.price_hold import AMOUNT
from sluicegate.factsources.catalog import bundled_listings
from sluicegate.testing.sse import sse_frames
from sluicegate.testing.threads import UvicornThread

LISTING = next(
    x for x in bundled_listings() if x["currency"] == "USD" and (x["listing_trust_score"] or 0) >= 0.8
)
TITLE, PRICE = LISTING["title"], f"${LISTING['price']:.2f}"
BAITS = {
    "historical": f"{TITLE} used to cost $4.99 last year.",
    "future": f"Next month {TITLE} will cost $19.99.",
    "discount": f"{TITLE} is 20% off today, only $7.99!",
    "total": f"Two copies of {TITLE} total $25.50.",
    "tax": f"{TITLE} is {PRICE} plus $1.20 tax.",
    "shipping": f"Shipping {TITLE} to you is $5.99.",
    "conversion": f"{TITLE} is about €11.50 in euros.",
    "edition": f"The deluxe hardcover edition of {TITLE} is $49.99.",
    "invented": f"{TITLE} is just $3.50.",
}


@pytest.fixture
def server(gateway: Callable[..., UvicornThread]) -> UvicornThread:
    replies = [{"match": family, "text": text, "chunk_chars": 3} for family, text in BAITS.items()]
    return gateway(
        {
            "providers": {"shop": {"type": "scripted", "inline": {"models": {"m": replies}}}},
            "models": {"assistant": {"use": ["shop/m"]}},
            "assistant": {"routing": False},  # every turn reaches the model
        }
    )


def frames(response: httpx.Response) -> list[tuple[str, Any]]:
    return sse_frames(response.text)


@pytest.mark.parametrize("family", list(BAITS))
def test_no_wrong_amount_ever_reaches_a_token_frame(server: UvicornThread, family: str) -> None:
    response = httpx.post(
        f"{server.url}/v1/assistant/sessions/bait-{family}/messages",
        json={"content": f"{family}: what does {TITLE} cost?"},
        timeout=30,
    )
    got = frames(response)
    tokens = [data["text"] for kind, data in got if kind == "token"]
    shown = "".join(tokens)
    assert all(found.group() == PRICE for token in tokens for found in AMOUNT.finditer(token))
    assert all(found.group() == PRICE for found in AMOUNT.finditer(shown))
    assert got[-1][0] == "complete"
    assert [m.group() for m in AMOUNT.finditer(got[-1][1]["text"])] == [
        m.group() for m in AMOUNT.finditer(shown)
    ]
    if family == "invented":
        assert PRICE in shown  # replaced by the catalog price
    elif family != "tax":
        assert "Check the product page for current pricing." in shown
