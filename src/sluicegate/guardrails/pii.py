"""PII redaction for text that is stored (audit content, summaries) and the check that keeps
PII out of the cache: the inline PII rules, applied to a whole text."""

from __future__ import annotations

from functools import cache

from sluicegate.guardrails.inline import scan_text
from sluicegate.guardrails.rules import Rule, pii_rules

REDACT_ALL = {"pii": "redact"}


@cache
def _rules() -> tuple[Rule, ...]:
    return tuple(pii_rules())


def redact(text: str) -> str:
    return scan_text(text, _rules(), REDACT_ALL).text


def contains_pii(text: str) -> bool:
    return bool(scan_text(text, _rules(), REDACT_ALL).hits)
