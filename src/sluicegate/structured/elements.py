"""Elements of a JSON object as they stream (seed 002): fed the model's text chunk by chunk, it
hands back each element of the object's top-level arrays (`"elements": [{...}, {...}]`) the moment
its closing bracket arrives — wherever the chunks split the text. Each character is looked at
once; strings and escapes are respected, so a bracket inside a string is just text.

Elements are objects or arrays; a scalar inside a top-level array is not an element (the schemas
stream lists of records)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StreamedElement:
    field: str  # the top-level key whose array it belongs to
    index: int  # its place in that array
    value: Any  # the parsed JSON (validation is the caller's); None when it is not JSON
    error: str | None = None  # why the element's text is not JSON: reported, not dropped


Mark = tuple[int, int]  # (chunk, offset in it)


@dataclass
class ElementStream:
    _chunks: list[str] = field(default_factory=list)
    _stack: list[str] = field(default_factory=list)  # "{" or "[" per open container
    _in_string: bool = False
    _escaped: bool = False
    _string_start: Mark = (0, 0)
    _last_string: str | None = None  # the last string closed at the top level (a key)
    _key: str | None = None  # the key whose value is being read at the top level
    _array_key: str | None = None  # the top-level array being read, by its key
    _element_start: Mark | None = None
    _counts: dict[str, int] = field(default_factory=dict)

    def feed(self, chunk: str) -> list[StreamedElement]:
        found: list[StreamedElement] = []
        self._chunks.append(chunk)
        current = len(self._chunks) - 1
        for offset, char in enumerate(chunk):
            position = (current, offset)
            if self._in_string:
                self._read_string(char, position)
                continue
            if char == '"':
                self._in_string, self._string_start = True, position
            elif char in "{[":
                self._open(char, position)
            elif char in "}]":
                element = self._close(position)
                if element is not None:
                    found.append(element)
            elif char == ":" and len(self._stack) == 1:
                self._key = self._last_string
        return found

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def _slice(self, start: Mark, end: Mark) -> str:
        """The text from `start` to `end` inclusive: only the chunks it spans are joined, so an
        element costs its own length, not the length of all that came before."""
        (first, begin), (last, stop) = start, end
        if first == last:
            return self._chunks[first][begin : stop + 1]
        middle = self._chunks[first + 1 : last]
        return self._chunks[first][begin:] + "".join(middle) + self._chunks[last][: stop + 1]

    def _read_string(self, char: str, position: Mark) -> None:
        if self._escaped:
            self._escaped = False
        elif char == "\\":
            self._escaped = True
        elif char == '"':
            self._in_string = False
            if len(self._stack) == 1:  # a key (or a string value) of the top-level object
                try:  # a raw control character in a key is a model's mistake, not a reason to stop
                    self._last_string = json.loads(self._slice(self._string_start, position), strict=False)
                except ValueError:
                    self._last_string = None

    def _open(self, char: str, position: Mark) -> None:
        depth = len(self._stack)
        if depth == 1 and char == "[" and self._stack[0] == "{":
            self._array_key = self._key
        elif depth == 2 and self._array_key is not None:
            self._element_start = position
        self._stack.append(char)

    def _close(self, position: Mark) -> StreamedElement | None:
        if not self._stack:
            return None  # a stray bracket before the object: not ours to read
        self._stack.pop()
        depth = len(self._stack)
        if depth == 2 and self._array_key is not None and self._element_start is not None:
            raw = self._slice(self._element_start, position)
            self._element_start = None
            index = self._counts.get(self._array_key, 0)
            self._counts[self._array_key] = index + 1
            try:
                return StreamedElement(self._array_key, index, json.loads(raw))
            except ValueError as exc:  # the element is reported as invalid; the reask repairs it
                return StreamedElement(self._array_key, index, None, f"not JSON: {exc.args[0]}")
        if depth == 1:
            self._array_key = None
        return None
