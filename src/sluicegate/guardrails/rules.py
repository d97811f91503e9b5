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
SSN = r"(?<!\d)(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}(?!\d)"
CARD = r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)"
PHONE = (
    r"(?<![\w+])(?:\+[1-9]\d{6,14}"  # E.164
    r"|(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\)|[2-9]\d{2})[ .\-]?[2-9]\d{2}[ .\-]?\d{4})(?!\d)"  # NANP
)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
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


def word_list_pattern(words: Iterable[str]) -> regex.Pattern[str]:
    """Whole words or phrases, case-insensitive, any run of spaces between the words of a phrase."""
    alternatives = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    escaped = [r"\s+".join(regex.escape(part) for part in phrase.split()) for phrase in alternatives]
    body = "|".join(escaped) or r"(?!x)x"
    return regex.compile(rf"(?<![\w])(?:{body})(?![\w])", regex.IGNORECASE)


def pii_rules() -> list[Rule]:
    return [
        Rule("pii.email", "pii", regex.compile(EMAIL), "[EMAIL]"),
        Rule("pii.card", "pii", regex.compile(CARD), "[CARD]", luhn_valid),
        Rule("pii.ssn", "pii", regex.compile(SSN), "[SSN]"),
        Rule("pii.phone", "pii", regex.compile(PHONE), "[PHONE]"),
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
