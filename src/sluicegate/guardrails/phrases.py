"""A cheap gate for the word-list rules (competitors, profanity): their patterns hold a hundred
alternatives with variants, and running one over every chunk cost 12 µs. The gate reads the
text's words once per scan (shared by every gated rule) and lets a pattern run only where one of
its phrases' first words (or a phrase written as one word) stands; it also says where an
unfinished last word may still become one, which the scanner holds. It may let a pattern run for
nothing (a `target` that is no Target); it never keeps it from a match, because every variant the
patterns accept begins with a listed first word."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import regex

_TOKEN = regex.compile(r"[^\W_]+")
_LAST_WORD = regex.compile(r"(?r)[^\W_]+\Z")
CONNECTORS = frozenset({"and", "n"})  # `&` has no word; `and`, `n` and `'n'` stand for it


def words(text: str) -> tuple[str, ...]:
    return tuple(w for w in (t.lower() for t in _TOKEN.findall(text)) if w not in CONNECTORS)


@dataclass(frozen=True, slots=True)
class Found:
    at: int

    def start(self) -> int:
        return self.at


_last: tuple[str, int, list[str]] = ("", -1, [])


def _words_of(text: str, pos: int) -> list[str]:
    """The lowercase words of `text` from `pos`, read once per scan for all the gated rules."""
    global _last
    if _last[0] is not text or _last[1] != pos:
        _last = (text, pos, _TOKEN.findall(text.lower(), pos))
    return _last[2]


_last_word: tuple[str, int, tuple[int, str] | None] = ("", -1, None)


def _last_word_of(text: str, pos: int) -> tuple[int, str] | None:
    """Where the text's last word starts, and the word in lowercase; once per scan, as above."""
    global _last_word
    if _last_word[0] is not text or _last_word[1] != pos:
        found = _LAST_WORD.search(text, pos)
        _last_word = (text, pos, None if found is None else (int(found.start()), found.group().lower()))
    return _last_word[2]


class PhraseGate:
    def __init__(self, phrases: Iterable[str]) -> None:
        firsts: set[str] = set()
        for phrase in phrases:
            tokens = words(phrase)
            if tokens:
                firsts.update((tokens[0], "".join(tokens)))  # "BooksAMillion", "RightStuf"
        self._firsts = frozenset(firsts)
        self._prefixes = frozenset(word[:j] for word in firsts for j in range(1, len(word) + 1))
        self.tail = _Tail(self)

    @classmethod
    def union(cls, gates: Iterable[PhraseGate]) -> PhraseGate:
        """One gate that opens where any of `gates` would, and whose tail grows where any of theirs
        would (a stream's plain words are tested against all the word lists at once)."""
        joined = cls(())
        for gate in gates:
            joined._firsts |= gate._firsts
            joined._prefixes |= gate._prefixes
        return joined

    def search(self, text: str, pos: int = 0) -> Found | None:
        """Whether the pattern must run: one of its first words stands in the text."""
        return None if self._firsts.isdisjoint(_words_of(text, pos)) else Found(pos)

    def growing(self, text: str, pos: int) -> Found | None:
        """Where an unfinished last word starts that may still become a first word."""
        last = _last_word_of(text, pos)
        if last is None or last[1] not in self._prefixes:
            return None
        return Found(last[0])


@dataclass(frozen=True, slots=True)
class _Tail:
    gate: PhraseGate

    def search(self, text: str, pos: int = 0) -> Found | None:
        return self.gate.growing(text, pos)
