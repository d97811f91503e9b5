"""JSON objects with optional members: a member without a value is left out, not sent as null
(what wire formats and our frames expect)."""

from __future__ import annotations

from typing import Any


def present(**members: Any) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}
