"""PII patterns and redaction with typed masks, for text that is stored (audit content,
summaries): e-mail addresses, US SSNs, payment cards (Luhn-checked; spaces and dashes
allowed) and phone numbers (NANP and E.164)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")
SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}\b")
CARD = re.compile(r"\b(?:\d[ \-]?){12,18}\d\b")
PHONE = re.compile(
    r"(?<![\w+])(?:\+[1-9]\d{6,14}\b|(?:\+?1[ .\-]?)?\(?[2-9]\d{2}\)?[ .\-]?[2-9]\d{2}[ .\-]?\d{4}\b)"
)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


@dataclass(frozen=True, slots=True)
class PiiRule:
    name: str
    pattern: re.Pattern[str]
    mask: str
    valid: Callable[[str], bool] = lambda _: True


RULES = (
    PiiRule("email", EMAIL, "[EMAIL]"),
    PiiRule("card", CARD, "[CARD]", luhn_valid),
    PiiRule("ssn", SSN, "[SSN]"),
    PiiRule("phone", PHONE, "[PHONE]"),
)


def redact(text: str) -> str:
    for rule in RULES:
        text = rule.pattern.sub(lambda m, r=rule: r.mask if r.valid(m.group()) else m.group(), text)  # type: ignore[misc]
    return text


def contains_pii(text: str) -> bool:
    return any(rule.valid(m.group()) for rule in RULES for m in rule.pattern.finditer(text))
