"""The text the scanners match against: NFKC-normalised (fullwidth digits become digits) with
zero-width and other format characters dropped, plus a map back to the original, so that what
gets redacted is always the original text, evasions included."""

from __future__ import annotations

import unicodedata


def normalized(text: str) -> tuple[str, list[int]]:
    """(normalised text, for each of its characters the index of the original character)."""
    if text.isascii():
        return text, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":  # zero-width space, joiners, bidi marks, soft hyphen
            continue
        folded = unicodedata.normalize("NFKC", char) if not char.isascii() else char
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin
