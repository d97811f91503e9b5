"""PII as the scheme in docs/pii.md writes it down: the candidate patterns (run on normalised text,
see normalize.py) and the checks that decide which part of a candidate is PII.

A pattern finds a candidate cheaply; a locator then returns the spans inside it that are PII, or
none: a card must carry a brand's prefix and length and pass Luhn, and a run of digit groups
may hold one inside it (a phone number followed by a card); an international number must have
a length libphonenumber says is possible for its country code; an e-mail's top-level domain
must not be a file extension (`logo@2x.png`).
"""

from __future__ import annotations

import phonenumbers
import regex

Spans = list[tuple[int, int]]

# At most two words between a context word and the number ("phone number is", "SSN on file:").
_GAP = r"[^\w\n]{0,3}(?:[A-Za-z]+[^\w\n]{1,3}){0,2}"

# -- SSN: AAA-GG-SSSS with a dash, a space or a dot; nine bare digits only after words that say SSN.
_SSN_AREA = r"(?!000|666|9\d\d)\d{3}"
SSN_CONTEXT = r"(?i:\bssn|\bss\s?\#|social[\s\-]+security|\bsoc\.?\s?sec)"
SSN = (
    rf"(?<![\w\-.])(?:{_SSN_AREA}(?P<ssep>[ \-.])(?!00)\d{{2}}(?P=ssep)(?!0000)\d{{4}}"
    rf"|(?<={SSN_CONTEXT}{_GAP}){_SSN_AREA}(?!00)\d{{2}}(?!0000)\d{{4}})(?![\w]|[\-.]\d)"
)

# -- Cards: 13 to 19 digits, contiguous or in groups with one separator throughout.
CARD = (
    r"(?<![\w+\-./])(?:\d{13,19}|\d{1,6}(?P<csep>[ \-./])\d{1,6}(?:(?P=csep)\d{1,6}){1,17})"
    r"(?![\w]|[\-./ ]\d)"
)
# A card number split across two quoted fragments of one message: "4111 1111" ... "1111 1111".
_QUOTE = "\"'\u2018\u2019\u201c\u201d\u00ab\u00bb\u201e"
_FRAGMENT = r"\d[\d \-./]{2,20}\d"
SPLIT_CARD = (
    rf"(?<=[{_QUOTE}])(?P<first>{_FRAGMENT})[{_QUOTE}][^\d{_QUOTE}]{{1,40}}?"
    rf"[{_QUOTE}](?P<second>{_FRAGMENT})(?=[{_QUOTE}])"
)

# -- Phones: NANP as people write it; international numbers with + or 00 and a country code.
_NANP_BODY = r"(?:\(\d{3}\)[ \-.]?|\d{3}[ \-.])\d{3}[ \-.]\d{4}"
PHONE_CONTEXT = rf"(?i:\b(?:phone|tel|telephone|mobile|cell|call|text|fax|whatsapp|sms|reach\s+me)){_GAP}"
NANP = (
    rf"(?<![\w+\-.])(?:(?:\+?1[ \-.]?)?(?:{_NANP_BODY})"
    rf"|(?<={PHONE_CONTEXT})(?:\+?1)?\d{{10}})(?![\w]|[\-.]\d)"
)
INTERNATIONAL = (
    r"(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ \-.]?\(0\))?(?:[ \-./]?(?:\(\d{1,5}\)|\d{1,6})){1,8}(?![\w])"
)

# -- E-mail: plus tags, dots, subdomains, multi-part TLDs, any case.
EMAIL = (
    r"(?<![\w.+\-%@])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w@]|\.[A-Za-z0-9])"
)
# Asset names with a density suffix (`logo@2x.png`) look like addresses; these are not TLDs.
_FILE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "heic", "pdf"}
    | {"css", "js", "mjs", "json", "txt"}
)

_DIGITS = regex.compile(r"\d+")


def _digits(text: str) -> str:
    return "".join(_DIGITS.findall(text))


def luhn_valid(number: str) -> bool:
    checksum = 0
    for index, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        checksum += digit
    return checksum % 10 == 0


def card_brand(number: str) -> str | None:
    """The brand whose IIN prefix and length the digits carry, or None."""
    length = len(number)
    two, four, six = int(number[:2]), int(number[:4]), int(number[:6])
    if number[0] == "4":
        return "visa" if length in (13, 16, 19) else None
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard" if length == 16 else None
    if two in (34, 37):
        return "amex" if length == 15 else None
    if number.startswith("6011") or 644 <= int(number[:3]) <= 649 or two == 65 or 622126 <= six <= 622925:
        return "discover" if 16 <= length <= 19 else None
    if 3528 <= four <= 3589:
        return "jcb" if 16 <= length <= 19 else None
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return "diners" if 14 <= length <= 19 else None
    if two == 62:
        return "unionpay" if 16 <= length <= 19 else None
    return None


def is_card(number: str) -> bool:
    return 13 <= len(number) <= 19 and card_brand(number) is not None and luhn_valid(number)


def _groups(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGITS.finditer(text)]


def card_spans(text: str) -> Spans:
    """The card numbers in a run of digit groups: the whole run, or the longest window of whole
    groups that is one (a phone number or an order number may stand right before a card)."""
    groups = _groups(text)
    found: Spans = []
    first = 0
    while first < len(groups):
        best = None
        for last in range(len(groups) - 1, first - 1, -1):
            number = "".join(text[s:e] for s, e in groups[first : last + 1])
            if is_card(number):
                best = (groups[first][0], groups[last][1])
                first = last
                break
        if best is not None:
            found.append(best)
        first += 1
    return found


def split_card_spans(match: regex.Match[str]) -> Spans:
    """Both quoted fragments, when together they are one card number."""
    number = _digits(match.group("first")) + _digits(match.group("second"))
    if not is_card(number):
        return []
    start = match.start()
    return [
        (match.start("first") - start, match.end("first") - start),
        (match.start("second") - start, match.end("second") - start),
    ]


def international_spans(text: str) -> Spans:
    """The longest prefix of whole groups that is a possible number for its country code (a
    trunk `(0)` is not part of the number; `00` is the international prefix)."""
    groups = [(s, e) for s, e in _groups(text) if text[max(s - 1, 0) : e + 1] != "(0)"]
    prefix = 2 if text.startswith("00") else 0
    for last in range(len(groups) - 1, -1, -1):
        digits = "".join(text[s:e] for s, e in groups[: last + 1])[prefix:]
        if len(digits) < 8:
            return []
        try:
            parsed = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return [(0, groups[last][1])]
    return []


def email_spans(text: str) -> Spans:
    tld = text.rsplit(".", 1)[-1].lower()
    return [] if tld in _FILE_EXTENSIONS else [(0, len(text))]


def whole(text: str) -> Spans:
    return [(0, len(text))]
