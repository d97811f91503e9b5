"""Generate the bundled demo shop catalog: synthetic manga listings, the same on every run.

    python scripts/generate_catalog.py > src/sluicegate/demo/catalog.json

Seeded, so the file in the repository is reproducible. Some listings have no trust score and
some score below 0.7, some sellers are younger than 30 days: the guardrails need all of those.
"""

from __future__ import annotations

import json
import random
import string
import sys
from datetime import date, timedelta

SERIES = [
    ("Blade of the Quiet Moon", "Haruka Sato"),
    ("Starlit Bakery", "Kenji Mori"),
    ("Iron Lotus Academy", "Aya Fujimoto"),
    ("The Last Cartographer", "Ren Takeda"),
    ("Ghost Train Detectives", "Mei Kobayashi"),
    ("Dragon's Ledger", "Sora Nakamura"),
    ("Paper Crane Rebellion", "Yui Ishikawa"),
    ("Neon Samurai 2099", "Daichi Okada"),
    ("Tea House at World's End", "Hina Matsumoto"),
    ("Clockwork Fox", "Takumi Ueda"),
    ("Midnight Volleyball", "Rina Shimizu"),
    ("Spirit Garden", "Kaito Hayashi"),
    ("Harbor of Lost Letters", "Nanami Kato"),
    ("Crimson Ronin", "Haruto Yamada"),
    ("Moonlight Alchemist", "Sakura Inoue"),
    ("Robot Shepherd", "Yuto Kimura"),
    ("Seven Seas Ramen", "Mio Saito"),
    ("Thunder Kendo Club", "Riku Yoshida"),
    ("Wandering Witch Post", "Aoi Yamaguchi"),
    ("Frost Kingdom Chronicle", "Sota Watanabe"),
]
SELLERS = [
    "MangaMart",
    "Tokyo Page Turners",
    "Otaku Outlet",
    "Panel & Ink",
    "Shonen Shelf",
    "Kawaii Comics Co",
    "Inkwell Imports",
    "Volume One Books",
    "RisingSunReads",
    "QuickShip Manga",
]
TODAY = date(2026, 11, 1)


def asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def listings(count: int = 320, seed: int = 20261101) -> list[dict[str, object]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    for index in range(count):
        series, author = SERIES[index % len(SERIES)]
        volume = index // len(SERIES) + 1
        listing_id = asin(rng)
        while listing_id in seen:
            listing_id = asin(rng)
        seen.add(listing_id)
        roll = rng.random()
        score = (
            None
            if roll < 0.08
            else round(rng.uniform(0.3, 0.69), 2)
            if roll < 0.22
            else round(rng.uniform(0.7, 1.0), 2)
        )
        new_seller = rng.random() < 0.08
        since = TODAY - timedelta(days=rng.randint(1, 29) if new_seller else rng.randint(60, 3000))
        out.append(
            {
                "id": listing_id,
                "title": f"{series}, Vol. {volume}",
                "series": series,
                "volume": volume,
                "author": author,
                "price": round(
                    rng.choice([9.99, 10.99, 11.99, 12.99, 13.99, 14.99, 15.99, 19.99])
                    + rng.choice([0, 0, 0, 1, 2]),
                    2,
                ),
                "currency": "USD",
                "stock": rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 45]),
                "seller": rng.choice(SELLERS),
                "seller_since": since.isoformat(),
                "listing_trust_score": score,
                "description": f"Volume {volume} of {series} by {author}. "
                + rng.choice(
                    [
                        "Paperback, English edition.",
                        "Collector's edition with color pages.",
                        "Includes a bonus chapter.",
                        "First printing.",
                    ]
                ),
            }
        )
    return out


if __name__ == "__main__":
    json.dump(listings(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
