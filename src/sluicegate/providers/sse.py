"""Server-sent events from a byte stream, as the WHATWG event-stream format defines them: `field:
value` lines, `data` lines joined by newlines, an event dispatched at a blank line, comments
(`:`) and `id`/`retry` ignored, an unterminated event at the end of the stream discarded.

Lines are split on the bytes themselves, so a line of any length (a large JSON delta) is fine and
a multi-byte character split across network reads is decoded whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    pending = b""
    name = ""
    data: list[str] = []
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            continue
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.removesuffix(b"\r").decode("utf-8", "replace")
            if not line:
                if data:
                    yield ServerSentEvent(name or "message", "\n".join(data))
                name, data = "", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
