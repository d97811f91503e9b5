"""The typed frames of an SSE answer (`event:` and `data:` lines), as tests and benchmarks read
them: [(event, data)] in order."""

from __future__ import annotations

import json
from typing import Any


def sse_frames(body: str) -> list[tuple[str, Any]]:
    found = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found
