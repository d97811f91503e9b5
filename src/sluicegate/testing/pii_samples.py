"""Seeded PII samples for the scheme in docs/pii.md: every type in each of its written forms,
every evasion, and the hard negatives that must come back unchanged. The property tests split
them at every chunk boundary; benchmarks/guardrails.py reports recall per type and per evasion
and precision per negative kind from them.

A sample is a sentence and the spans in it that must be redacted (none for a negative).
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str  # e.g. "card.amex.grouped", "evasion.en_dash", "negative.isbn"
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, mask) of what must be redacted

    @property
    def values(self) -> list[str]:
        return [self.text[start:end] for start, end, _ in self.spans]


def _luhn_complete(partial: str) -> str:
    """`partial` plus the check digit that makes it Luhn-valid."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return partial + str((10 - total % 10) % 10)


def card_number(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return _luhn_complete(body)


# (brand, prefixes, lengths, grouping of the usual printed form)
BRANDS: list[tuple[str, list[str], list[int], list[int]]] = [
    ("visa", ["4"], [13, 16, 19], [4, 4, 4, 4, 3]),
    ("mastercard", ["51", "53", "55", "2221", "2720"], [16], [4, 4, 4, 4]),
    ("amex", ["34", "37"], [15], [4, 6, 5]),
    ("discover", ["6011", "644", "65"], [16, 19], [4, 4, 4, 4, 3]),
    ("jcb", ["3528", "3589"], [16], [4, 4, 4, 4]),
    ("diners", ["300", "305", "36", "38"], [14], [4, 6, 4]),
    ("unionpay", ["62"], [16, 19], [4, 4, 4, 4, 3]),
    ("maestro", ["5018", "6304", "6759"], [12, 16, 19], [4, 4, 4, 4, 3]),
    ("jcb15", ["2131", "1800"], [15], [4, 6, 5]),
]


def grouped(digits: str, sizes: list[int], separator: str) -> str:
    parts, cursor = [], 0
    for size in sizes:
        if cursor >= len(digits):
            break
        parts.append(digits[cursor : cursor + size])
        cursor += size
    if cursor < len(digits):
        parts.append(digits[cursor:])
    return separator.join(parts)


def ssn(rng: random.Random) -> tuple[str, str, str]:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


COUNTRIES = ["US", "GB", "DE", "FR", "JP", "AU", "IN", "BR", "MX", "ES", "NL", "IE", "CN"]


def international(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """A valid number of the region: its example number with the last digits varied."""
    kind = rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = str(example.national_number)
    for _ in range(50):
        varied = national[:-3] + "".join(rng.choice(string.digits) for _ in range(3))
        number = phonenumbers.parse(f"+{example.country_code}{varied}", None)
        if phonenumbers.is_valid_number(number):
            return number
    return example


TEMPLATES = [
    "Please update my details: {v}. Thanks!",
    "You can reach the customer on {v} any weekday.",
    "Noted {v} on the order form; shipping tomorrow.",
    "{v}",
    "The value the customer gave was {v}, as requested.",
]


def _sentence(rng: random.Random, kind: str, value: str, mask: str, lead: str = "") -> Sample:
    template = rng.choice(TEMPLATES)
    before = template.split("{v}")[0] + lead
    text = before + value + template.split("{v}")[1]
    return Sample(kind, text, ((len(before), len(before) + len(value), mask),))


def _positives(rng: random.Random) -> Iterator[Sample]:
    for brand, prefixes, lengths, sizes in BRANDS:
        for length in lengths:
            number = card_number(rng, rng.choice(prefixes), length)
            lead = "card " if length == 12 else ""  # twelve digits are a card only when told so
            yield _sentence(rng, f"card.{brand}.contiguous", number, "[CARD]", lead)
            separator = rng.choice([" ", "-"])
            yield _sentence(rng, f"card.{brand}.grouped", grouped(number, sizes, separator), "[CARD]", lead)
    number = card_number(rng, "4", 16)
    first, second = number[:8], number[8:]
    text = f'My card is "{first[:4]} {first[4:]}" and the rest is "{second[:4]} {second[4:]}".'
    a = text.index(first[:4])
    b = text.index(second[:4], a + 9)
    yield Sample("card.split_quoted", text, ((a, a + 9, "[CARD]"), (b, b + 9, "[CARD]")))
    area, group, serial = ssn(rng)
    for name, separator in [("dashes", "-"), ("spaces", " "), ("dots", ".")]:
        yield _sentence(rng, f"ssn.{name}", separator.join((area, group, serial)), "[SSN]")
    lead = rng.choice(["SSN: ", "my social security number is ", "SSN on file ", "Soc. Sec. "])
    yield _sentence(rng, "ssn.bare_with_context", area + group + serial, "[SSN]", lead)
    area3, exchange, line = (
        f"{rng.randint(201, 989)}",
        f"{rng.randint(200, 999)}",
        f"{rng.randint(0, 9999):04d}",
    )
    nanp = {
        "parentheses": f"({area3}) {exchange}-{line}",
        "dashes": f"{area3}-{exchange}-{line}",
        "dots": f"{area3}.{exchange}.{line}",
        "spaces": f"{area3} {exchange} {line}",
        "plus_one": f"+1 {area3} {exchange} {line}",
        "toll_free": f"1-800-{exchange}-{line}",
        "extension": f"({area3}) {exchange}-{line} x{rng.randint(1, 9999)}",
        "international_prefix": f"001-{area3}-{exchange}-{line}",
    }
    for name, value in nanp.items():
        yield _sentence(rng, f"phone.nanp.{name}", value, "[PHONE]")
    lead = rng.choice(["call me at ", "phone: ", "my cell is ", "text "])
    yield _sentence(rng, "phone.nanp.bare_with_context", area3 + exchange + line, "[PHONE]", lead)
    for region in COUNTRIES[1:]:
        dialled = international(rng, region)
        spaced = phonenumbers.format_number(dialled, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        compact = phonenumbers.format_number(dialled, phonenumbers.PhoneNumberFormat.E164)
        yield _sentence(rng, f"phone.{region}.spaced", spaced, "[PHONE]")
        yield _sentence(rng, f"phone.{region}.compact", compact, "[PHONE]")
        if region not in ("BR", "MX", "CN", "ES"):  # trunk-0 national forms
            national = phonenumbers.format_number(dialled, phonenumbers.PhoneNumberFormat.NATIONAL)
            yield _sentence(rng, f"phone.{region}.national", national, "[PHONE]")
    user = rng.choice(["ann", "bob.smith", "J.Doe", "li_wei"])
    emails = {
        "plain": f"{user}@example.com",
        "plus_tag": f"{user}+orders@example.org",
        "subdomain": f"{user}@mail.eu.example.net",
        "multi_part_tld": f"{user}@shop.co.uk",
        "upper_case": f"{user.upper()}@EXAMPLE.COM",
        "apostrophe": "o'brien@example.ie",
    }
    for name, value in emails.items():
        yield _sentence(rng, f"email.{name}", value, "[EMAIL]")


# Evasions: what is done to a value's separators or between its characters.
EVASIONS: dict[str, Callable[[str], str]] = {
    "zero_width_space": lambda v: "\u200b".join(v),
    "zero_width_joiner": lambda v: "\u200d".join(v),
    "word_joiner": lambda v: "\u2060".join(v),
    "soft_hyphen": lambda v: "\u00ad".join(v),
    "bom": lambda v: "\ufeff".join(v),
    "fullwidth": lambda v: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in v),
    "nbsp": lambda v: v.replace(" ", "\u00a0").replace("-", "\u00a0"),
    "thin_space": lambda v: v.replace(" ", "\u2009").replace("-", "\u2009"),
    "narrow_nbsp": lambda v: v.replace(" ", "\u202f").replace("-", "\u202f"),
    "en_dash": lambda v: v.replace("-", "\u2013").replace(" ", "\u2013"),
    "figure_dash": lambda v: v.replace("-", "\u2012").replace(" ", "\u2012"),
    "middle_dot": lambda v: v.replace("-", "\u00b7").replace(" ", "\u00b7"),
}


def _evasions(rng: random.Random) -> Iterator[Sample]:
    area, group, serial = ssn(rng)
    values = [
        ("[CARD]", grouped(card_number(rng, "4", 16), [4, 4, 4, 4], " ")),
        ("[CARD]", grouped(card_number(rng, "37", 15), [4, 6, 5], "-")),
        ("[SSN]", f"{area}-{group}-{serial}"),
        ("[PHONE]", f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"),
        (
            "[PHONE]",
            phonenumbers.format_number(
                international(rng, "GB"), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            ),
        ),
        ("[EMAIL]", "ann.lee@example.com"),
    ]
    for name, evade in EVASIONS.items():
        for mask, value in values:
            if mask == "[EMAIL]" and name not in ("zero_width_space", "soft_hyphen", "fullwidth", "bom"):
                continue  # an e-mail address has no separators to swap
            yield _sentence(rng, f"evasion.{name}", evade(value), mask)


def _hex(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(count))


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:7]}-{body[7:]}-{check}"


def _luhn_failing(rng: random.Random) -> str:
    number = card_number(rng, "4", 16)
    wrong = str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return grouped(number[:-1] + wrong, [4, 4, 4, 4], rng.choice([" ", "-", ""]))


NEGATIVES: dict[str, Callable[[random.Random], str]] = {
    "order_number": lambda r: rng_choice(
        r,
        [
            f"order {r.randint(10**8, 10**10 - 1)}",
            f"order #{r.randint(10**8, 10**9)}",
            f"Order number: {r.randint(2 * 10**9, 10**10 - 1)}",
            f"order ID {r.randint(2 * 10**9, 10**10 - 1)}",
            f"confirmation {r.randint(2 * 10**9, 10**10 - 1)}",
            f"#{r.randint(2 * 10**9, 10**10 - 1)}",
        ],
    ),
    "isbn13": _isbn13,
    "isbn10": lambda r: f"ISBN 0-{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(0, 9)}",
    "tracking": lambda r: rng_choice(
        r,
        [
            f"1Z{_hex(r, 6).upper()}{r.randint(10**9, 10**10 - 1)}",
            f"9{r.randint(2, 5)}{r.randint(0, 99):02d} "
            + " ".join(f"{r.randint(0, 9999):04d}" for _ in range(4))
            + f" {r.randint(10, 99)}",
            f"tracking {r.randint(10**11, 10**12 - 1)}",
        ],
    ),
    "price": lambda r: f"${r.randint(1, 9999):,}.{r.randint(0, 99):02d}",
    "date_time": lambda r: (
        f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}"
    ),
    "version": lambda r: f"v{r.randint(0, 20)}.{r.randint(0, 40)}.{r.randint(0, 200)}",
    "luhn_failing_card": _luhn_failing,
    "invalid_ssn": lambda r: rng_choice(
        r,
        [
            f"000-{r.randint(10, 99)}-1234",
            f"666-{r.randint(10, 99)}-1234",
            f"9{r.randint(10, 99)}-12-3456",
            "123-00-4567",
            "123-45-0000",
        ],
    ),
    "short_code": lambda r: f"text STOP to {r.randint(10000, 99999)}",
    "ip": lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)),
    "mac": lambda r: ":".join(_hex(r, 2).upper() for _ in range(6)),
    "zip4": lambda r: f"{r.randint(10000, 99999)}-{r.randint(1000, 9999)}",
    "coordinates": lambda r: f"{r.uniform(-80, 80):.4f}, {r.uniform(-170, 170):.4f}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128))),
    "hash": lambda r: _hex(r, r.choice([32, 40, 64])),
    "email_lookalike": lambda r: rng_choice(
        r, ["ann at example dot com", "logo@2x.png", "@manga_fan", "icon@3x.webp"]
    ),
}


def rng_choice(rng: random.Random, options: Sequence[object]) -> str:
    return str(rng.choice(options))


def _negatives(rng: random.Random) -> Iterator[Sample]:
    for kind, make in NEGATIVES.items():
        text = rng.choice(TEMPLATES).replace("{v}", make(rng))
        yield Sample(f"negative.{kind}", text, ())


def samples(seed: int = 0, rounds: int = 1) -> list[Sample]:
    """Every type, evasion and negative kind `rounds` times, from one seed (the same list each run)."""
    rng = random.Random(seed)
    found: list[Sample] = []
    for _ in range(rounds):
        found.extend(_positives(rng))
        found.extend(_evasions(rng))
        found.extend(_negatives(rng))
    return found
