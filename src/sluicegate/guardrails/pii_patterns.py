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

# Bare numbers are decided by the words before them, read by the locator (not by a look-behind
# in the pattern, which would be tried at every digit of every chunk): at most two words between
# the context word and the number ("phone number is", "SSN on file:").
_GAP = r"[^\w]{0,3}(?:[A-Za-z]+[^\w]{1,3}){0,2}\Z"
_SSN_SAID = regex.compile(r"(?i:\bssn|\bss\s?\#|social[\s\-]+security|\bsoc\.?\s?sec)" + _GAP)
_CARD_SAID = regex.compile(r"(?i:\b(?:card|visa|maestro|debit|credit|cc|amex|mastercard))" + _GAP)
_PHONE_SAID = regex.compile(
    r"(?i:\b(?:phone|tel|telephone|mobile|cell|call|text|fax|whatsapp|sms|desk|office|reach\s+me))" + _GAP
)
# A bare number right after a word that names another kind of number is that kind.
_NAMED_OTHERWISE = regex.compile(
    r"(?i:order|confirmation|tracking|invoice|ref|reference|isbn|sku|item|id|account|customer)"
    r"(?:\s+(?:number|no\.?|id|\#))?\W{0,3}\Z|\#\s?\Z"
)
_BEFORE = 40  # characters of context read before a bare number


def _words_before(found: regex.Match[str]) -> str:
    return str(found.string[max(0, found.start() - _BEFORE) : found.start()])


def said_before(found: regex.Match[str], said: regex.Pattern[str]) -> bool:
    """Whether the words just before the match say what `said` says (and none names it otherwise)."""
    return said.search(_words_before(found)) is not None and not named_otherwise(found)


def named_otherwise(found: regex.Match[str]) -> bool:
    return _NAMED_OTHERWISE.search(_words_before(found)) is not None


# -- SSN: AAA-GG-SSSS with a dash, a space or a dot; nine bare digits only after words that say SSN.
_SSN_AREA = r"(?!000|666|9\d\d)\d{3}"
SSN = (
    rf"(?=\d)(?<![\w\-.])(?:{_SSN_AREA}(?P<ssep>[ \-.])(?!00)\d{{2}}(?P=ssep)(?!0000)\d{{4}}"
    rf"|(?P<bare>{_SSN_AREA}(?!00)\d{{2}}(?!0000)\d{{4}}))(?![\w]|[\-.]\d)"
)


def ssn_spans(found: regex.Match[str]) -> Spans:
    if found.group("bare") is not None and not said_before(found, _SSN_SAID):
        return []
    return [(0, found.end() - found.start())]


# -- Cards: 12 (Maestro) to 19 digits, contiguous or in groups with one separator throughout.
# Twelve digits (Maestro) only after words that say card: parcel tracking numbers have twelve too.
CARD = (
    r"(?=\d)(?<![\w+\-./])(?:\d{13,19}"
    r"|(?P<twelve>\d{12}|\d{4}[ \-]\d{4}[ \-]\d{4})(?![\-./ ]\d)"
    r"|\d{1,6}(?P<csep>[ \-./])\d{1,6}(?:(?P=csep)\d{1,6}){1,17})"
    r"(?![\w]|[\-./ ]\d)"
)
# A card number split across two quoted fragments of one message: "4111 1111" ... "1111 1111".
_QUOTE = "\"'\u2018\u2019\u201c\u201d\u00ab\u00bb\u201e"
_FRAGMENT = r"\d[\d \-./]{2,20}\d"
SPLIT_CARD = (
    rf"(?=\d)(?<=[{_QUOTE}])(?P<first>{_FRAGMENT})[{_QUOTE}][^\d{_QUOTE}]{{1,40}}?"
    rf"[{_QUOTE}](?P<second>{_FRAGMENT})(?=[{_QUOTE}])"
)

# -- Phones: NANP as people write it; international numbers with + or 00 and a country code.
_NANP_BODY = r"(?:\(\d{3}\)[ \-.]?|\d{3}[ \-.])\d{3}[ \-.]\d{4}"
_EXTENSION = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
NANP = (
    rf"(?=[\d+(])(?<![\w+\-.])(?:(?:\+?1[ \-.]?)?(?:{_NANP_BODY})|(?P<bare>(?:\+?1)?\d{{10}}))"
    rf"{_EXTENSION}(?![\w]|[\-.]\d)"
)
_NANP_VALID = regex.compile(r"(?:\+?1)?[2-9]\d{2}[2-9]\d{6}")


def nanp_spans(found: regex.Match[str]) -> Spans:
    """Ten bare digits are a phone after a phone word, or as a valid NANP number (area and
    exchange 2-9) that no word before it names as an order, tracking or other number."""
    if found.group("bare") is not None:
        told = said_before(found, _PHONE_SAID)
        valid = _NANP_VALID.fullmatch(found.group("bare")) is not None and not named_otherwise(found)
        if not (told or valid):
            return []
    return [(0, found.end() - found.start())]


INTERNATIONAL = (
    r"(?=[+0])(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ \-.]?\(0\))?(?:[ \-./]?(?:\(\d{1,5}\)|\d{1,6})){1,8}"
    + _EXTENSION
    + r"(?![\w])"
)

# National numbers with a trunk 0 and separators, as people in most of the listed countries write
# them: "020 7946 0958", "(0161) 496 0066", "04 15 39 15 00", "080-9141-7776".
NATIONAL = (
    r"(?=[(0])(?<![\w+\-./(])(?<!\d[ \-])(?:\(0\d{1,4}\)[ \-.]?|0\d{1,5}[ \-.])\d{2,8}(?:[ \-.]\d{2,4}){0,3}"
    r"(?![\w]|[\-./]\d)"
)
NATIONAL_REGIONS = ("GB", "DE", "FR", "JP", "AU", "IN", "ES", "NL", "IE", "CN", "MX", "BR")

# -- E-mail: plus tags, dots, subdomains, multi-part TLDs, any case.
EMAIL = (
    r"(?<![\w.+\-%@'])[A-Za-z0-9._%+\-]+(?:'[A-Za-z0-9._%+\-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w@]|\.[A-Za-z0-9])"
)
# Asset names with a density suffix (`logo@2x.png`) look like addresses; these are not TLDs.
_FILE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "heic", "pdf"}
    | {"css", "js", "mjs", "json", "txt"}
)

_DIGITS = regex.compile(r"\d+")


def digits_of(text: str) -> str:
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
    if two == 35:  # JCB is 3528-3589; generators (Faker) use all of 35
        return "jcb" if 16 <= length <= 19 else None
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return "diners" if 14 <= length <= 19 else None
    if two == 62:
        return "unionpay" if 16 <= length <= 19 else None
    if four in (2131, 1800):
        return "jcb" if length == 15 else None
    if two in (50, 56, 57, 58) or four in (6304, 6390, 6759, 6761, 6762, 6763, 604):
        return "maestro" if 12 <= length <= 19 else None
    return None


def is_card(number: str, *, twelve: bool = False) -> bool:
    return (
        (12 if twelve else 13) <= len(number) <= 19 and card_brand(number) is not None and luhn_valid(number)
    )


def _groups(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGITS.finditer(text)]


def card_spans(found: regex.Match[str]) -> Spans:
    """The card number in a run of digit groups: the whole run, or the longest run of whole groups
    at its start or its end that is one (a phone number may stand right before or after a card).
    A window in the middle is not tried: long tracking numbers hold Luhn-valid stretches."""
    text = found.group()
    if found.group("twelve") is not None:
        told = said_before(found, _CARD_SAID)
        return [(0, len(text))] if told and is_card(digits_of(text), twelve=True) else []
    groups = _groups(text)
    count = len(groups)
    windows = sorted(
        {(0, last) for last in range(count)} | {(first, count - 1) for first in range(count)},
        key=lambda w: w[0] - w[1],
    )
    for first, last in windows:
        number = "".join(text[s:e] for s, e in groups[first : last + 1])
        if is_card(number):
            return [(groups[first][0], groups[last][1])]
    return []


def split_card_spans(match: regex.Match[str]) -> Spans:
    """Both quoted fragments, when together they are one card number."""
    number = digits_of(match.group("first")) + digits_of(match.group("second"))
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


def national_spans(text: str) -> Spans:
    digits = digits_of(text)
    # Eight digits only with the area code in parentheses: "01.02.2026" is a date.
    if not (8 if text.startswith("(") else 9) <= len(digits) <= 12:
        return []
    for region in NATIONAL_REGIONS:
        try:
            parsed = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return [(0, len(text))]
    return []


def email_spans(text: str) -> Spans:
    tld = text.rsplit(".", 1)[-1].lower()
    return [] if tld in _FILE_EXTENSIONS else [(0, len(text))]


def whole(text: str) -> Spans:
    return [(0, len(text))]
