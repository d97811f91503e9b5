"""System-prompt leaks beyond the canary: an answer that reproduces a long verbatim run of the
words of a protected prompt (the persona and the instructions, not the fenced facts, which an
answer may quote) is a leak. Checked as the answer streams, word by word, so the stream ends
within a few words of the run reaching the threshold."""

from __future__ import annotations

from collections import deque

import regex

_WORD = regex.compile(r"\w+")
SHINGLE = 5  # words per n-gram
# Eight words in a row: longer than any phrase an answer shares with the instructions by chance
# ("only about the store's products" is six), short enough that little shows before the end.
RUN_WORDS = 8


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class PromptEcho:
    def __init__(self, protected: str, *, run_words: int = RUN_WORDS) -> None:
        tokens = words(protected)
        self._shingles = {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}
        # A run of `run_words` prompt words in order holds this many consecutive shingles.
        self._needed = max(1, run_words - SHINGLE + 1)
        self._recent: deque[str] = deque(maxlen=SHINGLE)
        self._run = 0
        self._partial = ""  # a word cut by the chunk boundary

    def feed(self, text: str) -> bool:
        """Whether the answer so far reproduces a long run of the protected prompt."""
        text = self._partial + text
        cut = len(text)
        while cut > 0 and (text[cut - 1].isalnum() or text[cut - 1] == "_"):
            cut -= 1
        self._partial = text[cut:]
        return self._read(text[:cut])

    def finish(self) -> bool:
        partial, self._partial = self._partial, ""
        return self._read(partial)

    def _read(self, text: str) -> bool:
        for word in words(text):
            self._recent.append(word)
            if len(self._recent) == SHINGLE and tuple(self._recent) in self._shingles:
                self._run += 1
                if self._run >= self._needed:
                    return True
            else:
                self._run = 0
        return False
