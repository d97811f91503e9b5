"""The shop's deterministic tools (seed 001 §2.6's TOOL_ONLY_EXECUTION): product lookup, price,
stock, search by series, author or title, order status and tracking — typed, over the catalog
(the `FactSource` port) and the demo orders table shipped beside it. A confident simple question
gets its answer from one of them with a template, in the asker's language, and no model."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, Field

from sluicegate.demo.lookup import CatalogEntities
from sluicegate.demo.replies import language_of, render
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.routing.entities import Entities
from sluicegate.routing.signals import signals
from sluicegate.routing.tools import Tool, ToolRegistry, ToolResult


def _bundled(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(files("sluicegate.demo").joinpath(name).read_text("utf-8"))
    return data


def bundled_listings() -> list[dict[str, Any]]:
    return _bundled("catalog.json")


def bundled_orders() -> list[dict[str, Any]]:
    return _bundled("orders.json")


def shop_entities() -> CatalogEntities:
    listings = bundled_listings()
    return CatalogEntities(
        {item["series"] for item in listings},
        {item["author"] for item in listings},
        [order["id"] for order in bundled_orders()],
    )


# -- arguments and results -----------------------------------------------------------------------


class ListingRef(BaseModel):
    listing_id: str = Field(description="The listing id, e.g. B0FHZDCDOR.")


class VolumeRef(BaseModel):
    series: str = Field(description="The series as the catalog names it.")
    volume: int | None = Field(default=None, ge=1, description="The volume; none: every volume.")


class SearchArgs(BaseModel):
    series: str | None = None
    author: str | None = None
    title: str | None = Field(default=None, description="Words of a title.")


class OrderRef(BaseModel):
    order_id: str = Field(description="The order id, e.g. ORD-104215.")


class Offer(BaseModel):
    listing_id: str
    title: str
    price: float
    currency: str
    stock: int


class Offers(BaseModel):
    query: str
    offers: list[Offer]


class OrderItem(BaseModel):
    title: str
    quantity: int
    price: float


class OrderStatus(BaseModel):
    order_id: str
    found: bool
    status: Literal["processing", "shipped", "in_transit", "delivered", "cancelled"] | None = None
    placed: str | None = None
    items: list[OrderItem] = Field(default_factory=list)
    total: float | None = None
    carrier: str | None = None
    tracking: str | None = None
    eta: str | None = None


def _offer(listing: Listing) -> Offer:
    return Offer(
        listing_id=listing.id,
        title=listing.title,
        price=listing.price,
        currency=listing.currency,
        stock=listing.stock,
    )


# -- the tools -----------------------------------------------------------------------------------


class ShopTools:
    """The registry of the shop's tools, and how a routed message picks one of them."""

    def __init__(
        self, facts: FactSource, *, trust_threshold: float, entities: CatalogEntities | None = None
    ) -> None:
        self._facts = facts
        self._threshold = trust_threshold
        self.matcher = entities or shop_entities()
        self._orders = {order["id"]: order for order in bundled_orders()}
        self._series_of_author: dict[str, list[str]] = {}
        for item in bundled_listings():
            series = self._series_of_author.setdefault(item["author"], [])
            if item["series"] not in series:
                series.append(item["series"])
        self.registry = ToolRegistry(
            [
                Tool(
                    "product_lookup",
                    "A listing by its id: title, price, stock.",
                    ListingRef,
                    self.product_lookup,
                ),
                Tool("price", "Prices of a series' volume (or of every volume).", VolumeRef, self.offers),
                Tool(
                    "stock",
                    "Copies in stock of a series' volume (or of every volume).",
                    VolumeRef,
                    self.offers,
                ),
                Tool("search", "Listings by series, author or title words.", SearchArgs, self.search),
                Tool("order_status", "An order's status, items and delivery estimate.", OrderRef, self.order),
                Tool("order_tracking", "An order's carrier and tracking number.", OrderRef, self.order),
            ]
        )

    def _trusted(self, listings: list[Listing]) -> list[Listing]:
        # What the trust filter would not card is not offered by a tool either.
        return [item for item in listings if (item.listing_trust_score or 0.0) >= self._threshold]

    async def product_lookup(self, args: ListingRef) -> Offers:
        listing = await self._facts.lookup(args.listing_id)
        found = self._trusted([listing]) if listing is not None else []
        return Offers(query=args.listing_id, offers=[_offer(item) for item in found])

    async def offers(self, args: VolumeRef) -> Offers:
        listings = await self._facts.search(args.series, limit=50)
        wanted = [
            item
            for item in self._trusted(listings)
            if item.series.casefold() == args.series.casefold()
            and (args.volume is None or item.volume == args.volume)
        ]
        wanted.sort(key=lambda item: item.volume)
        label = args.series if args.volume is None else f"{args.series}, Vol. {args.volume}"
        return Offers(query=label, offers=[_offer(item) for item in wanted])

    async def search(self, args: SearchArgs) -> Offers:
        series = [args.series] if args.series else list(self._series_of_author.get(args.author or "", []))
        if not series and args.title:
            found = await self._facts.search(args.title, limit=10)
            return Offers(query=args.title, offers=[_offer(item) for item in self._trusted(found)])
        offers: list[Offer] = []
        for name in series:
            offers += (await self.offers(VolumeRef(series=name))).offers
        return Offers(query=args.author or args.series or "", offers=offers)

    async def order(self, args: OrderRef) -> OrderStatus:
        order = self._orders.get(args.order_id.upper())
        if order is None:
            return OrderStatus(order_id=args.order_id, found=False)
        return OrderStatus(
            order_id=order["id"],
            found=True,
            status=order["status"],
            placed=order["placed"],
            items=[
                OrderItem(title=i["title"], quantity=i["quantity"], price=i["price"]) for i in order["items"]
            ],
            total=order["total"],
            carrier=order["carrier"],
            tracking=order["tracking"],
            eta=order["eta"],
        )

    # -- routing ---------------------------------------------------------------------------------

    def plan(self, text: str, entities: Entities) -> tuple[str, dict[str, Any]] | None:
        """The tool that answers this message alone, and its arguments; None when none can."""
        found = set(signals(text))
        if entities.order_id is not None:
            tracking = any(w in text.casefold() for w in ("track", "seguimiento", "suivi", "carrier"))
            return ("order_tracking" if tracking else "order_status"), {"order_id": entities.order_id}
        if entities.series is not None:
            arguments = {"series": entities.series, "volume": entities.volume}
            if "sig:stock_words" in found and "sig:price_words" not in found:
                return "stock", arguments
            if entities.volume is None and "sig:price_words" not in found:
                return "search", {"series": entities.series}
            return "price", arguments
        if entities.author is not None:
            return "search", {"author": entities.author}
        return None

    def reply(self, result: ToolResult, question: str) -> str:
        return render(result, language_of(question))
