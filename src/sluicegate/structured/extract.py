"""From what a model wrote to a validated value: tolerant extraction (code fences, prose before
or after, trailing commas), then strict validation against the closed type. Tolerance is only
about the wrapping: the value itself must satisfy the schema exactly (no extra fields, a known
tag)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from sluicegate.errors import OutputNotJson

T = TypeVar("T")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def json_text(text: str) -> str:
    """The JSON value in `text`: inside a code fence if there is one, else from the first `{` or
    `[` to its balanced close (strings and escapes respected); trailing commas removed."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise OutputNotJson("no JSON object or array in the answer")
    end = _balanced_end(body, start)
    if end is None:
        raise OutputNotJson("the JSON value is cut off (unbalanced brackets)")
    return _TRAILING_COMMA.sub(r"\1", body[start:end])


def _balanced_end(text: str, start: int) -> int | None:
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    value: T | None
    errors: tuple[str, ...]


def parse(text: str, adapter: TypeAdapter[T]) -> Parsed[T]:
    """The value, or the errors (short, one a line, each naming where): what a reask shows."""
    try:
        data: Any = json.loads(json_text(text))
    except (OutputNotJson, json.JSONDecodeError) as exc:
        return Parsed(None, (f"not JSON: {exc}",))
    try:
        return Parsed(adapter.validate_python(data), ())
    except ValidationError as exc:
        return Parsed(None, tuple(concise(exc)))


def concise(error: ValidationError, limit: int = 8) -> list[str]:
    """Validation errors as a model can act on them: `where: what` (input values left out)."""
    lines = []
    for item in error.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"{where}: {item['msg']}")
    more = error.error_count() - limit
    return lines + ([f"... and {more} more"] if more > 0 else [])


_REFUSAL = re.compile(
    r"^\s*(?:i(?:'m| am)? (?:sorry|afraid)|i (?:can(?:no|')t|cannot|won't|will not|am unable|'m unable)|"
    r"sorry,? (?:but )?i|as an ai|i must decline|unable to (?:help|comply|assist))",
    re.IGNORECASE,
)


def refusal(text: str) -> str | None:
    """The model declined in words, with no JSON at all: its reason (a refusal is an answer, not a
    malformed one, and asking again would only repeat it)."""
    if "{" in text or "[" in text or not _REFUSAL.search(text):
        return None
    return " ".join(text.split())[:300]
