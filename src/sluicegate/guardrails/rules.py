"""The inline rules (seed 000 ADR-004: regular expressions and keyword lists only): PII (US SSN,
payment cards with a Luhn check, NANP and E.164 phone numbers, e-mail addresses), competitor
names from a closed list, and profanity from a word list. Each rule's action comes from the
configuration: redact (a typed mask), block (end the stream), flag (pass, record)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import regex

Action = Literal["redact", "block", "flag"]

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
SSN = r"(?<![\w\-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w\-])"
# Card numbers as people write them: contiguous, in groups of four (16-19 digits, or Maestro's 12),
# or Amex's 4-6-5 — not any digit run with dashes, which would take phone numbers and ISBNs too.
CARD = (
    r"(?<![\w\-])(?:\d{12,19}"
    r"|\d{4}(?P<sep>[ \-])\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{4})?(?:(?P=sep)\d{1,3})?"
    r"|\d{4}(?P<amex>[ \-])\d{6}(?P=amex)\d{4,5})(?![\w\-])"
)
PHONE = (
    r"(?<![\w+])(?:\+[1-9]\d{6,14}"  # E.164
    r"|(?:(?:\+|00)?1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2})[ .\-]?[2-9]\d{2}[ .\-]?\d{4})(?!\d)"  # NANP
)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 12 <= len(digits) <= 19:
        return False
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        checksum += digit
    return checksum % 10 == 0


def _always(_: str) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    name: str  # e.g. "pii.card"
    category: str  # the config key whose action applies: pii, competitors, profanity
    pattern: regex.Pattern[str]
    mask: str
    valid: Callable[[str], bool] = _always
    # Speed, not meaning: without a `trigger` character in the text the rule cannot match anywhere,
    # so the scan is skipped; only `tail` (what could still grow into a match) is then held.
    trigger: regex.Pattern[str] | None = None
    tail: regex.Pattern[str] | None = None


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


def pii_rules() -> list[Rule]:
    digits = regex.compile(r"\d")
    return [
        Rule(
            "pii.email",
            "pii",
            regex.compile(EMAIL),
            "[EMAIL]",
            trigger=regex.compile("@"),
            tail=regex.compile(r"[A-Za-z0-9._%+\-]+\Z"),
        ),
        Rule("pii.card", "pii", regex.compile(CARD), "[CARD]", luhn_valid, trigger=digits),
        Rule("pii.ssn", "pii", regex.compile(SSN), "[SSN]", trigger=digits),
        Rule("pii.phone", "pii", regex.compile(PHONE), "[PHONE]", trigger=regex.compile(r"[\d+(]")),
    ]


def profanity_words() -> list[str]:
    text = resources.files("sluicegate.guardrails").joinpath("profanity.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def default_rules(competitors: Sequence[str]) -> list[Rule]:
    return [
        *pii_rules(),
        Rule("competitor", "competitors", word_list_pattern(competitors), "[COMPETITOR]"),
        Rule("profanity", "profanity", word_list_pattern(profanity_words()), "[PROFANITY]"),
    ]
