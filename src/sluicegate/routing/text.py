"""What the deterministic router reads of a message: the text folded the way people's typing
varies (case, accents, spacing, digits), its words, and its character n-grams — which survive a
typo, an abbreviation or another language's inflection where whole words do not."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d")


@lru_cache(maxsize=1024)
def fold(text: str) -> str:
    """Case and accents folded, spaces collapsed: 'Cuánto  CUESTA' → 'cuanto cuesta'. Cached: the
    classifier, its signals and the entity matcher each read the same message."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare).strip()


def words(folded: str) -> list[str]:
    return _WORDS.findall(folded)


def shape(folded: str) -> str:
    """Every digit as 0: an order number or a price is a shape, not a value."""
    return _DIGITS.sub("0", folded)


def char_ngrams(folded: str, low: int = 2, high: int = 4) -> list[str]:
    """n-grams inside word boundaries (fastText's), of the digit-shaped words."""
    grams: list[str] = []
    for word in words(shape(folded)):
        padded = f" {word} "
        for n in range(low, high + 1):
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams
