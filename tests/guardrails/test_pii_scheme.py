"""The PII scheme of docs/pii.md, from its seeded generator (sluicegate.testing.pii_samples):
every type in every written form and every evasion is redacted, every hard negative comes back
unchanged, and a stream split at any chunk boundary gives exactly what the whole text gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.guardrails.inline import StreamScanner, scan_text
from sluicegate.guardrails.rules import pii_rules
from sluicegate.testing.pii_samples import NEGATIVES, Sample, samples

RULES = pii_rules()
REDACT = {"pii": "redact"}
SAMPLES = samples(seed=0, rounds=2)


def whole(text: str) -> str:
    return scan_text(text, RULES, REDACT).text


def streamed(chunks: list[str]) -> str:
    scanner = StreamScanner(RULES, REDACT)
    out = [scanner.feed(chunk).text for chunk in chunks]
    out.append(scanner.finish().text)
    return "".join(out)


def expected(sample: Sample) -> str:
    text = sample.text
    for start, end, mask in sorted(sample.spans, reverse=True):
        text = text[:start] + mask + text[end:]
    return text


def test_the_generator_covers_every_type_evasion_and_negative_kind() -> None:
    kinds = {s.kind.split(".")[0] for s in SAMPLES}
    assert kinds == {"card", "ssn", "phone", "email", "evasion", "negative"}
    assert {s.kind for s in SAMPLES if s.kind.startswith("negative.")} == {f"negative.{k}" for k in NEGATIVES}
    assert samples(seed=0, rounds=2) == SAMPLES  # seeded: the same list every run


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.kind)
def test_each_sample_is_redacted_exactly_where_the_scheme_says(sample: Sample) -> None:
    assert whole(sample.text) == expected(sample)


@pytest.mark.parametrize("sample", SAMPLES[::3], ids=lambda s: s.kind)
def test_every_single_chunk_boundary_gives_the_whole_text_result(sample: Sample) -> None:
    want = expected(sample)
    for cut in range(1, len(sample.text)):
        assert streamed([sample.text[:cut], sample.text[cut:]]) == want, cut


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=1, max_value=120), max_size=12))
def test_any_chunking_gives_the_whole_text_result(sample: Sample, cuts: list[int]) -> None:
    points = sorted({c for c in cuts if c < len(sample.text)})
    chunks = [sample.text[a:b] for a, b in zip([0, *points], [*points, len(sample.text)], strict=True)]
    assert streamed(chunks) == expected(sample)


@pytest.mark.parametrize(
    "text",
    [
        "SSN 123-45-6789 sent as 123456789",  # bare digits need a context word right before them
        "Order 1234567890 ships today",
        "Call about order 4155550132 please",  # a number named an order number is one
        "tracking 582971317331",  # twelve digits, a Maestro prefix, Luhn-valid: not a card here
    ],
)
def test_bare_numbers_are_pii_only_in_context(text: str) -> None:
    out = whole(text)
    assert "[SSN]" not in out.split("sent as")[-1]
    assert "[PHONE]" not in out
    assert "[CARD]" not in out
