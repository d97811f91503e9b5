"""The event-stream decoder: the WHATWG rules, however the bytes are split across reads."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from sluicegate.providers.sse import ServerSentEvent, sse_events

STREAM = (
    ": a comment, ignored\r\n"
    "event: message_start\r\n"
    'data: {"type": "message_start"}\r\n'
    "\r\n"
    "data: first line\n"
    "data:second line\n"
    "id: 7\n"
    "retry: 100\n"
    "\n"
    "data: é ✓ 日本\n"
    "\n"
    "event: lonely\n"
    "\n"
    "data: never finished"
).encode()

EXPECTED = [
    ServerSentEvent("message_start", '{"type": "message_start"}'),
    ServerSentEvent("message", "first line\nsecond line"),
    ServerSentEvent("message", "é ✓ 日本"),
]


async def decode(pieces: list[bytes]) -> list[ServerSentEvent]:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return [event async for event in sse_events(chunks())]


async def test_fields_comments_multiline_data_and_an_unfinished_event() -> None:
    # An event without data is not dispatched; one cut off before its blank line is discarded.
    assert await decode([STREAM]) == EXPECTED


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
async def test_any_split_of_the_bytes_gives_the_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert await decode(pieces) == EXPECTED
