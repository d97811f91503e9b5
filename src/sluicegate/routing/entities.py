"""The entities a routed message names, and the port that finds them (a domain pack knows its
own names: the shop, its series, authors and orders). A deterministic tool can answer only a
message whose entities were found; the classifier reads whether they were."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Entities:
    series: str | None = None  # as the catalog spells it
    author: str | None = None
    volume: int | None = None
    order_id: str | None = None  # as the orders table spells it (ORD-104233)

    @property
    def found(self) -> bool:
        return any(v is not None for v in (self.series, self.author, self.order_id))

    def features(self) -> list[str]:
        names = [("series", self.series), ("author", self.author), ("volume", self.volume)]
        found = [f"ent:{name}" for name, value in names if value is not None]
        return found + (["ent:order"] if self.order_id is not None else [])

    def merged(self, earlier: Entities) -> Entities:
        """This message's entities, completed by the previous turn's ("and volume 3?")."""
        return Entities(
            series=self.series or (earlier.series if self.author is None else None),
            author=self.author or (earlier.author if self.series is None else None),
            volume=self.volume,
            order_id=self.order_id or earlier.order_id,
        )


class EntityMatcher(Protocol):
    def match(self, text: str) -> Entities: ...


class NoEntities:
    """A gateway without a domain pack: nothing is named, no tool answers alone."""

    def match(self, text: str) -> Entities:
        return Entities()
