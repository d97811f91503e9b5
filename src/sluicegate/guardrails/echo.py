"""PII echoed from the request (docs/pii.md): every PII value the request carries is remembered
for that request, and its reappearance in the response is redacted in whatever form it comes back
— its digits regrouped, with other separators or none, spelled out one by one; an e-mail address
with its dots and at sign written as words — even where that form alone would not count as PII.

Each remembered value becomes one more rule of the request's scanner, so the stream is held and
masked exactly as for the fixed rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import phonenumbers
import regex

from sluicegate.guardrails.inline import scan_text
from sluicegate.guardrails.pii_patterns import digits_of
from sluicegate.guardrails.rules import DIGIT, Rule

# Between two digits of an echoed number: nothing, or a few separators of any kind.
_BETWEEN_DIGITS = r"[\s\-./·,()]{0,3}"
_AT = r"\s*(?:@|\(at\)|\[at\]|\{at\}|\bat\b)\s*"
_DOT = r"(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\bdot\b)\s*)"
MIN_DIGITS = 7  # fewer digits echo too much ordinary text
FLAG_PII = {"pii": "flag"}
_MAY_HOLD_PII = regex.compile(r"[\d@\uff10-\uff19\uff20]")  # with fullwidth digits and at sign


def _digit_pattern(digits: str) -> str:
    return r"(?<!\d)" + _BETWEEN_DIGITS.join(digits) + r"(?!\d)"


def _phone_core(value: str) -> str:
    """A phone number's significant digits: without its country code, which an echo may drop."""
    digits = digits_of(value)
    try:
        parsed = phonenumbers.parse(value if value.lstrip().startswith("+") else "+" + digits, None)
    except phonenumbers.NumberParseException:
        return digits[-10:]
    national = str(parsed.national_number)
    return national if len(national) >= MIN_DIGITS else digits[-10:]


def _email_pattern(value: str) -> str:
    local, _, domain = value.lower().partition("@")

    def dotted(part: str) -> str:
        return _DOT.join(regex.escape(piece) for piece in part.split("."))

    return rf"(?i)(?<![\w.]){dotted(local)}{_AT}{dotted(domain)}(?![\w])"


def echo_rule(name: str, mask: str, value: str) -> Rule | None:
    """The rule that finds `value` again in any form, or None when it is too short to be safe."""
    trigger: regex.Pattern[str] | None = DIGIT  # the PII rules' own: searched once per scan
    if name == "pii.email":
        # No trigger: the local part has to be held before its at sign shows up.
        source, trigger = _email_pattern(value), None
    else:
        digits = _phone_core(value) if name == "pii.phone" else digits_of(value)
        if len(digits) < MIN_DIGITS:
            return None
        source = _digit_pattern(digits)
    return Rule(f"{name}.echo", "pii", regex.compile(source), mask, trigger=trigger, priority=1)


def remembered(texts: Iterable[str], rules: Sequence[Rule]) -> list[Rule]:
    """One echo rule per distinct PII value found in the request's texts."""
    masks = {rule.name: rule.mask for rule in rules}
    found: dict[tuple[str, str], Rule] = {}
    for text in texts:
        if _MAY_HOLD_PII.search(text) is None:
            continue  # every PII form has a digit or an at sign: most messages are skipped here
        for hit in scan_text(text, rules, FLAG_PII).hits:
            value = text[hit.start : hit.end]
            key = (hit.rule, value)
            if key not in found and (rule := echo_rule(hit.rule, masks[hit.rule], value)) is not None:
                found[key] = rule
    return list(found.values())
