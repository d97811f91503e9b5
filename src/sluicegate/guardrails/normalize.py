"""The text the scanners match against, plus a map back to the original, so that what gets
redacted is always the original text, evasions included:

- format characters are dropped (zero-width space and joiners, bidi marks, soft hyphen, BOM);
- NFKC folds compatibility forms (fullwidth digits and letters, superscripts);
- every space separator (NBSP, thin, narrow, ideographic) becomes a space, every dash (hyphen,
  figure, en, em, minus) a hyphen-minus, and middle dots and bullets a full stop — the separators
  people and models put between groups of digits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_SEPARATORS = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    **dict.fromkeys("\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff65", "."),
}


def _fold(char: str) -> str:
    separator = _SEPARATORS.get(char)
    if separator is not None:
        return separator
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category == "Zs":
        return " "
    return unicodedata.normalize("NFKC", char)


def normalized(text: str) -> tuple[str, Sequence[int]]:
    """(normalised text, for each of its characters the index of the original character)."""
    if text.isascii():
        return text, range(len(text))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = char if char.isascii() else _fold(char)
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin
