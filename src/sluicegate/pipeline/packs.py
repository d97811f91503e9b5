"""The domain pack port: what a business adds to the pipeline, and nothing else of it leaks in.

A pack is enabled per role (`models.ROLE.pack`) and for conversation turns (`assistant.pack`);
a gateway that enables none runs no domain logic on its answers. On a conversation turn the
pack writes the prompt (persona, instructions, facts for the question, fenced) and renders the
stream (placeholders resolved, cards); on every answer of a role it is enabled for, its
post-stream checks find what must be corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sluicegate.audit.events import Payload


@dataclass(slots=True)
class Rendered:
    """What a piece of the model's stream became: text to show, cards to send, hits to record."""

    text: str = ""
    cards: list[dict[str, Any]] = field(default_factory=list)
    hits: list[tuple[str, str]] = field(default_factory=list)  # (rule, entity id)
    # Where in `text` the pack wrote a fact itself (a price, a stock level): not the model's words.
    facts: list[tuple[int, int]] = field(default_factory=list)

    def then(self, later: Rendered) -> Rendered:
        shift = len(self.text)
        return Rendered(
            self.text + later.text,
            self.cards + later.cards,
            self.hits + later.hits,
            self.facts + [(s + shift, e + shift) for s, e in later.facts],
        )


@dataclass(frozen=True, slots=True)
class Correction:
    """Text already delivered was wrong: `text` replaces [start, end)."""

    start: int
    end: int
    text: str
    reason: str


# Pack decisions worth an audit event (a listing filtered out, say): the pipeline records them.
Report = Callable[[Payload], None]


class PackTurn(Protocol):
    """One conversation turn's use of a pack."""

    @property
    def system_prompt(self) -> str: ...

    async def feed(self, text: str) -> Rendered: ...

    async def finish(self) -> Rendered: ...

    def check_output(self, text: str) -> None:
        """Raise `FenceViolation` if the answer gives away what the prompt fenced."""
        ...


class DomainPack(Protocol):
    @property
    def name(self) -> str: ...

    async def open_turn(self, question: str, report: Report) -> PackTurn:
        """RETRIEVAL for a conversation turn: the prompt and the stream's renderer. May raise
        `FenceViolation` when untrusted facts try to forge the fence."""
        ...

    async def check(self, text: str, trusted: Sequence[tuple[int, int]] = ()) -> list[Correction]:
        """POST_STREAM: what in the whole answer must be corrected (`trusted`: spans the pack wrote)."""
        ...

    def entities(self, text: str) -> list[str]:
        """The entity ids an answer names (kept with the session)."""
        ...

    async def aclose(self) -> None: ...


def apply(text: str, corrections: Sequence[Correction]) -> str:
    """The text with every correction made (they must not overlap)."""
    out, cursor = [], 0
    for correction in sorted(corrections, key=lambda c: c.start):
        out.append(text[cursor : correction.start])
        out.append(correction.text)
        cursor = correction.end
    out.append(text[cursor:])
    return "".join(out)
