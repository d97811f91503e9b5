"""Inline scanners: typed masks, block and flag, evasions, and no leak across chunk boundaries."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sluicegate.guardrails.echo import remembered
from sluicegate.guardrails.inline import QuickCheck, RuleGroup, StreamScanner, grouped, scan_text
from sluicegate.guardrails.rules import default_rules

RULES = default_rules(["Barnes & Noble", "Books-A-Million"])
REDACT = {"pii": "redact", "competitors": "redact", "profanity": "redact"}
CARD = "4111 1111 1111 1111"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        (f"Pay with {CARD} now", "Pay with [CARD] now", "pii.card"),
        ("Pay with 4111-1111-1111-1111.", "Pay with [CARD].", "pii.card"),
        ("SSN 123-45-6789 ok", "SSN [SSN] ok", "pii.ssn"),
        ("Call (415) 555-0132 today", "Call [PHONE] today", "pii.phone"),
        ("Call +442071838750 today", "Call [PHONE] today", "pii.phone"),
        ("Mail ann.lee+promo@example.co.uk please", "Mail [EMAIL] please", "pii.email"),
        ("Try barnes & noble instead", "Try [COMPETITOR] instead", "competitor"),
        ("Books-A-Million has it", "[COMPETITOR] has it", "competitor"),
        ("What the damn thing", "What the [PROFANITY] thing", "profanity"),
    ],
)
def test_redaction_with_typed_masks(text: str, expected: str, rule: str) -> None:
    result = scan_text(text, RULES, REDACT)
    assert result.text == expected
    assert [h.rule for h in result.hits] == [rule]
    hit = result.hits[0]
    assert result.text[hit.start : hit.end].startswith("[")


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 fails Luhn",  # not a card
        "Prices: $14.99 and $9.50",
        "Call me maybe at 12:30",
        "Barnesville is a town; noble gases",
        "The crappy-ish assessment",  # no word match inside other words
    ],
)
def test_innocent_text_passes(text: str) -> None:
    result = scan_text(text, RULES, REDACT)
    assert result.text == text
    assert result.hits == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card " + fullwidth("4111 1111 1111 1111") + " end", "card [CARD] end"),  # fullwidth digits
        ("card 4111\u200b1111\u200b1111\u200b1111 end", "card [CARD] end"),  # zero-width spaces
        ("at Barnes\u200d & No\u00adble!", "at [COMPETITOR]!"),  # a joiner and a soft hyphen
        ("mail " + fullwidth("ann@example.com") + " ok", "mail [EMAIL] ok"),  # fullwidth letters
    ],
)
def test_evasions_are_caught_and_the_original_is_redacted(text: str, expected: str) -> None:
    assert scan_text(text, RULES, REDACT).text == expected


def test_block_ends_the_stream_after_the_safe_text() -> None:
    scanner = StreamScanner(RULES, {"pii": "block", "competitors": "redact", "profanity": "flag"})
    first = scanner.feed("Your card 4111 1111 ")
    second = scanner.feed("1111 1111 is fine")
    assert first.text + second.text == "Your card "
    assert second.blocked is not None
    assert second.blocked.rule == "pii.card"
    assert scanner.feed("more").text == ""
    assert scanner.finish().text == ""


def test_flag_passes_and_records() -> None:
    result = scan_text(
        "It was damn good", RULES, {"pii": "redact", "competitors": "redact", "profanity": "flag"}
    )
    assert result.text == "It was damn good"
    assert [(h.rule, h.action, h.start, h.end) for h in result.hits] == [("profanity", "flag", 7, 11)]


def test_off_disables_a_category() -> None:
    assert scan_text(f"card {CARD}", RULES, {"pii": "off"}).text == f"card {CARD}"


def test_only_what_could_still_match_is_held() -> None:
    scanner = StreamScanner(RULES, REDACT)
    assert scanner.feed("Hello there, the card is 4111 ").text == "Hello there, the card is "
    assert scanner.feed("1111").text == ""
    assert scanner.feed(" 1111 1111").text == ""
    assert scanner.feed(" thanks").text == "[CARD] "
    assert scanner.finish().text == "thanks"


SECRETS_IN_TEXT = [
    ("Your card 4111 1111 1111 1111 was charged $14.99 today.", "4111"),
    ("Reach ann@example.com for Barnes & Noble vouchers", "ann@"),
    ("SSN 123-45-6789, phone 415-555-0132.", "6789"),
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SECRETS_IN_TEXT), st.data())
def test_no_leak_at_any_chunk_boundaries(case: tuple[str, str], data: st.DataObject) -> None:
    text, fragment = case
    cuts = sorted(data.draw(st.sets(st.integers(1, len(text) - 1), max_size=8)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    scanner = StreamScanner(RULES, REDACT)
    released = ""
    for piece in pieces:
        released += scanner.feed(piece).text
        assert fragment not in released  # never a part of the secret, at any point
    released += scanner.finish().text
    assert released == scan_text(text, RULES, REDACT).text
    assert fragment not in released


def test_a_card_split_at_every_boundary_never_leaks_a_digit() -> None:
    text = f"pay {CARD} ok"
    for cut in range(1, len(text)):
        scanner = StreamScanner(RULES, REDACT)
        first = scanner.feed(text[:cut]).text
        assert not any(c.isdigit() for c in first)
        assert first + scanner.feed(text[cut:]).text + scanner.finish().text == "pay [CARD] ok"


@pytest.mark.parametrize("unit", ["7", "x", "x.", "ab1"])
def test_a_long_unbroken_run_is_held_back_no_longer_than_any_match_could_be(unit: str) -> None:
    """A run that could still grow into a match (digits, a word before an `@`) is released once it
    is longer than anything a rule is meant to catch; before, it was held to the stream's end and
    rescanned whole on every chunk."""
    scanner = StreamScanner(RULES, REDACT)
    released = ""
    for index in range(1, 2001):
        released += scanner.feed(unit).text
        assert index * len(unit) - len(released) <= 400  # the longest e-mail address is 254
    assert released + scanner.finish().text == unit * 2000


def test_pii_after_a_long_run_is_still_caught() -> None:
    scanner = StreamScanner(RULES, REDACT)
    text = "9" * 1000 + f" card {CARD} mail ann@example.com end"
    out = "".join(scanner.feed(char).text for char in text) + scanner.finish().text
    assert out == "9" * 1000 + " card [CARD] mail [EMAIL] end"


PIECES = ["Barnes", " & ", "Noble", "Books", "-A-", "Million", "ann", ".lee", "@", "example", ".co.uk",
          "4111", " 1111", "-", "damn", "(415) ", "555-0132", "+44 ", "20 7946 0958", "word", " ", ". ",
          "SSN ", "123-45-6789", "\uff44\uff41\uff4d\uff4e", "\u200b", "café ", "x"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.data())
def test_a_stream_in_any_pieces_releases_what_the_whole_text_would(
    words: list[str], data: st.DataObject
) -> None:
    """Plain chunks take a quicker way out (`_plain_release`); whatever the text and however it is
    cut, the stream's output is the whole text's."""
    text = "".join(words)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=12))) if text else []
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    scanner = StreamScanner(RULES, REDACT)
    released = "".join(scanner.feed(piece).text for piece in pieces) + scanner.finish().text
    assert released == scan_text(text, RULES, REDACT).text


def held_by_a_group(groups: list[RuleGroup], text: str) -> bool:
    """Each group asked in turn, as the plain release did before `QuickCheck` asked them at once."""
    for trigger, members in groups:
        if trigger is None or trigger.search(text) is not None:
            return True
        if any(rule.tail is not None and rule.tail.search(text) is not None for rule, _ in members):
            return True
    return False


ASKED = "Card 4111 1111 1111 1111, mail ann.lee@example.co.uk, call (415) 555-0132"


# The word lists' words and their beginnings, and what may stand between them (triggers among it).
WORDS = ["Barnes", "Noble", "Books", "Million", "www", "https", "damn", "Bar", "Mill", "dam", "ww", "Bo",
         "word", "dog", "ann", "example", "x", "café"]  # fmt: skip
BETWEEN = ["", " ", ". ", " & ", "-", "-A-", ".", "\u200b", "@", "41", "(415) ", "+44 "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(BETWEEN)), max_size=6), st.booleans())
@example(pairs=[("damn", " ")], echoes=False)
@example(pairs=[("www", ".")], echoes=False)
@example(pairs=[("Noble", " ")], echoes=False)
def test_the_quick_check_holds_exactly_what_each_group_would(
    pairs: list[tuple[str, str]], echoes: bool
) -> None:
    """One alternation of the triggers, one gate for the word lists: the same answer as asking
    every group (with a request's echo rules too, which are asked one by one)."""
    text = "".join(word + between for word, between in pairs)
    groups = grouped(RULES, REDACT)
    quick = QuickCheck.of(groups)
    assert quick.trigger is not None
    assert quick.gate is not None
    assert quick.rest == ()  # the default rules all fold
    if echoes:
        extra = grouped(remembered([ASKED], [r for r in RULES if r.category == "pii"]), REDACT)
        assert extra
        groups, quick = [*groups, *extra], quick.joined(extra)
    assert quick.holds(text) == held_by_a_group(groups, text)
