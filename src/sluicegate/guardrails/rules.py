"""The inline rules (seed 000 ADR-004: regular expressions and keyword lists only): PII (the
scheme of docs/pii.md: US SSN, payment cards, NANP and international phone numbers, e-mail
addresses; patterns and checks in pii_patterns.py), competitor
names from a closed list, and profanity from a word list. Each rule's action comes from the
configuration: redact (a typed mask), block (end the stream), flag (pass, record)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, Protocol

import regex

from sluicegate.config.competitors import Competitor
from sluicegate.guardrails import pii_patterns
from sluicegate.guardrails.competitors import (
    addresses_gate,
    domains_pattern,
    entries,
    names_gate,
    names_pattern,
)
from sluicegate.guardrails.phrases import PhraseGate

Action = Literal["redact", "block", "flag"]
# The spans (relative to the match) that are what the rule is about; none: a false candidate.
Locator = Callable[[regex.Match[str]], pii_patterns.Spans]


def _whole(found: regex.Match[str]) -> pii_patterns.Spans:
    return [(0, found.end() - found.start())]


def _on_text(check: Callable[[str], pii_patterns.Spans]) -> Locator:
    return lambda found: check(found.group())


class Finder(Protocol):
    """A compiled pattern, or anything that searches like one (the word-list rules' gates)."""

    def search(self, text: str, pos: int = 0) -> Any: ...


@dataclass(frozen=True)
class Rule:
    name: str  # e.g. "pii.card"
    category: str  # the config key whose action applies: pii, competitors, profanity
    pattern: regex.Pattern[str]
    mask: str
    locate: Locator = _whole
    # Speed, not meaning: without a `trigger` character in the text the rule cannot match anywhere,
    # so the scan is skipped; only `tail` (what could still grow into a match) is then held.
    trigger: Finder | None = None
    tail: Finder | None = None
    # Between two matches of one span, the higher wins (an echo knows what the value is).
    priority: int = 0


def word_list_pattern(words: Iterable[str]) -> regex.Pattern[str]:
    """Whole words or phrases, case-insensitive, any run of spaces between the words of a phrase."""
    alternatives = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    escaped = [r"\s+".join(regex.escape(part) for part in phrase.split()) for phrase in alternatives]
    body = "|".join(escaped) or r"(?!x)x"
    # The first-letter lookahead lets the engine skip most positions before trying every word.
    initials = "".join(
        sorted({regex.escape(p[0].lower()) + regex.escape(p[0].upper()) for p in alternatives})
    )
    guard = f"(?=[{initials}])" if initials else ""
    return regex.compile(rf"{guard}(?<![\w])(?:{body})(?![\w])", regex.IGNORECASE)


DIGIT = regex.compile(r"\d")
# A phone number can start with "+" or "(": held from there, not only from the first digit.
DIALLED = regex.compile(r"[\d+(]")


def pii_rules() -> list[Rule]:
    """The PII scheme of docs/pii.md."""
    digits = DIGIT
    dialled = DIALLED
    card, phone, national = (
        pii_patterns.card_spans,
        pii_patterns.international_spans,
        pii_patterns.national_spans,
    )
    return [
        Rule(
            "pii.email",
            "pii",
            regex.compile(pii_patterns.EMAIL),
            "[EMAIL]",
            _on_text(pii_patterns.email_spans),
            trigger=regex.compile("@"),
            tail=regex.compile(r"(?r)[A-Za-z0-9._%+\-']+\Z"),  # searched from the end
        ),
        Rule("pii.card", "pii", regex.compile(pii_patterns.CARD), "[CARD]", card, digits),
        Rule(
            "pii.card",
            "pii",
            regex.compile(pii_patterns.SPLIT_CARD),
            "[CARD]",
            pii_patterns.split_card_spans,
            digits,
        ),
        Rule("pii.ssn", "pii", regex.compile(pii_patterns.SSN), "[SSN]", pii_patterns.ssn_spans, digits),
        Rule(
            "pii.phone", "pii", regex.compile(pii_patterns.NANP), "[PHONE]", pii_patterns.nanp_spans, dialled
        ),
        Rule(
            "pii.phone", "pii", regex.compile(pii_patterns.INTERNATIONAL), "[PHONE]", _on_text(phone), dialled
        ),
        Rule(
            "pii.phone", "pii", regex.compile(pii_patterns.NATIONAL), "[PHONE]", _on_text(national), dialled
        ),
    ]


def profanity_words() -> list[str]:
    text = resources.files("sluicegate.guardrails").joinpath("profanity.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def default_rules(competitors: Iterable[str | Competitor]) -> list[Rule]:
    stores = entries(competitors)
    names, addresses = names_gate(stores), addresses_gate(stores)
    swearing = profanity_words()
    rude = PhraseGate(swearing)
    return [
        *pii_rules(),
        Rule(
            "competitor", "competitors", names_pattern(stores), "[COMPETITOR]", trigger=names, tail=names.tail
        ),
        Rule(
            "competitor",
            "competitors",
            domains_pattern(stores),
            "[COMPETITOR]",
            trigger=addresses,
            tail=addresses.tail,
        ),
        Rule(
            "profanity", "profanity", word_list_pattern(swearing), "[PROFANITY]", trigger=rude, tail=rude.tail
        ),
    ]
