"""Competitor names as customers write them (config/competitors.py): each name and alias with
its common variants — `&` as `and` or `n`, words joined by a space, a hyphen or nothing, an
apostrophe or none — and the stores' web addresses, a URL masked whole (scheme, `www.`, path).
Names that are also words (`Target`) are matched only as written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import regex

from sluicegate.config.competitors import Competitor
from sluicegate.guardrails.phrases import PhraseGate

TLDS = r"(?:com|net|org|co\.uk|co\.jp|jp|ca|de|fr|es|it|com\.au|au|in|nl|ie|com\.br|com\.mx)"
_JOIN = r"[\s\-]*"
_AMPERSAND = r"(?:&|and|n|'n'?)"
_PATH = r"(?:/[^\s<>()\[\]\"']*)?"


def entries(configured: Iterable[str | Competitor]) -> list[Competitor]:
    return [Competitor(name=c) if isinstance(c, str) else c for c in configured]


def phrase_pattern(phrase: str) -> str:
    """One name or alias with its variants."""
    words = [w for w in regex.split(r"[\s\-]+", phrase.strip()) if w]
    parts = []
    for word in words:
        if word.lower() in ("&", "and"):
            parts.append(_AMPERSAND)
            continue
        # Inner ampersands (B&N) may be spelled out; apostrophes (Powell's) may be left out.
        pieces = regex.split(r"(&|['\u2019])", word)
        parts.append(
            "".join(
                rf"{_JOIN}{_AMPERSAND}{_JOIN}"
                if p == "&"
                else "['\u2019]?"
                if p in "'\u2019" and p
                else regex.escape(p)
                for p in pieces
            )
        )
    return _JOIN.join(parts)


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isascii() and c.isalnum())


def _initials(alternatives: Sequence[str]) -> str:
    letters = sorted({c for a in alternatives for c in (a[0].lower(), a[0].upper())})
    return "".join(regex.escape(c) for c in letters)


def names_pattern(competitors: Sequence[Competitor]) -> regex.Pattern[str]:
    def alternatives(sensitive: bool) -> list[str]:
        phrases = {p for c in competitors if c.case_sensitive == sensitive for p in (c.name, *c.aliases)}
        return sorted(phrases, key=len, reverse=True)

    loose, exact = alternatives(False), alternatives(True)
    bodies = []
    if loose:
        bodies.append("(?i:" + "|".join(phrase_pattern(p) for p in loose) + ")")
    if exact:
        bodies.append("(?-i:" + "|".join(phrase_pattern(p) for p in exact) + ")")
    if not bodies:
        return regex.compile(r"(?!x)x")
    # The first-letter lookahead lets the engine skip most positions before trying every name.
    return regex.compile(rf"(?=[{_initials(loose + exact)}])(?<![\w])(?:{'|'.join(bodies)})(?![\w])")


def domains_pattern(competitors: Sequence[Competitor]) -> regex.Pattern[str]:
    """The stores' addresses: a listed domain, or a name's own letters with a common TLD."""
    slugs = sorted({s for c in competitors for s in (_slug(c.name), *map(_slug, c.aliases)) if len(s) >= 3})
    listed = sorted({d.lower() for c in competitors for d in c.domains}, key=len, reverse=True)
    hosts = [regex.escape(d) for d in listed] + [rf"{regex.escape(s)}\.{TLDS}" for s in slugs]
    if not hosts:
        return regex.compile(r"(?!x)x")
    starts = _initials(["h", "w", *listed, *slugs])
    return regex.compile(
        rf"(?=[{starts}])(?<![\w.\-/])(?:https?://)?(?:www\.)?(?:{'|'.join(hosts)})(?![\w\-]){_PATH}",
        regex.IGNORECASE,
    )


def names_gate(competitors: Sequence[Competitor]) -> PhraseGate:
    return PhraseGate(p for c in competitors for p in (c.name, *c.aliases))


def addresses_gate(competitors: Sequence[Competitor]) -> PhraseGate:
    slugs = {s for c in competitors for s in (_slug(c.name), *map(_slug, c.aliases)) if len(s) >= 3}
    # A URL's scheme and `www.` come before the name: the pattern runs (and holds) from them.
    return PhraseGate(["http", "https", "www", *slugs, *(d for c in competitors for d in c.domains)])
