"""PII echoed from the request (docs/pii.md): each value found in the request is redacted when it
comes back in any form — digits only, regrouped, other separators, spelled out digit by digit —
even where that form alone is not PII; split at every chunk boundary, nothing leaks."""

from __future__ import annotations

import pytest

from sluicegate.guardrails.echo import remembered
from sluicegate.guardrails.inline import StreamScanner, scan_text
from sluicegate.guardrails.rules import pii_rules

RULES = pii_rules()
REDACT = {"pii": "redact"}
REQUEST = [
    "Hi, my SSN is 078-05-1120 and my card 4111 1111 1111 1111.",
    "Call me on +44 20 7946 0958 or mail Ann.Lee@Example.co.uk",
]
ECHOES = remembered(REQUEST, RULES)


def guarded(text: str) -> str:
    return scan_text(text, [*RULES, *ECHOES], REDACT).text


def streamed(chunks: list[str]) -> str:
    scanner = StreamScanner([*RULES, *ECHOES], REDACT)
    return "".join([scanner.feed(c).text for c in chunks] + [scanner.finish().text])


def test_each_value_of_the_request_is_remembered_once() -> None:
    assert sorted(rule.name for rule in ECHOES) == [
        "pii.card.echo",
        "pii.email.echo",
        "pii.phone.echo",
        "pii.ssn.echo",
    ]
    assert remembered(["nothing personal here, order 12345"], RULES) == []


@pytest.mark.parametrize(
    ("answer", "mask"),
    [
        ("Your SSN 078051120 is on file.", "[SSN]"),  # bare digits: not an SSN by form alone
        ("Your SSN 0780 511 20 is on file.", "[SSN]"),  # regrouped
        ("Your SSN 078/05/1120 is on file.", "[SSN]"),  # other separators
        ("Your SSN 0 7 8 0 5 1 1 2 0 is on file.", "[SSN]"),  # spelled out
        ("Card 41111111 11111111 noted.", "[CARD]"),
        ("Card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 noted.", "[CARD]"),
        ("Card 411-111-111-111-1111 noted.", "[CARD]"),
        ("We will ring 2079460958 soon.", "[PHONE]"),  # the national digits without the country code
        ("We will ring 20.7946.0958 soon.", "[PHONE]"),
        ("Mail ann.lee at example dot co dot uk soon.", "[EMAIL]"),
        ("Mail ANN.LEE (at) EXAMPLE.CO.UK soon.", "[EMAIL]"),
    ],
)
def test_an_echo_in_any_form_is_redacted_with_the_values_mask(answer: str, mask: str) -> None:
    out = guarded(answer)
    assert mask in out
    assert not any(char.isdigit() for char in out)
    assert "lee" not in out.lower()
    for cut in range(1, len(answer)):
        assert streamed([answer[:cut], answer[cut:]]) == out, cut


def test_other_numbers_and_words_are_left_alone() -> None:
    answer = "Order 4111 ships in 2 days; volume 078 is out; see example.com for lee's notes."
    assert guarded(answer) == answer
