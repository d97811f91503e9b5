"""The inline guardrails inside a tool call's arguments: every string value of the JSON is scanned
as text is, and redacted in place, so the arguments stay valid JSON (a mask replaces characters
inside a string, never a number or a bracket). Arguments that are not JSON are scanned as text.
Hits carry spans in the arguments' own text as sent."""

from __future__ import annotations

import json
from typing import Any

from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.inline import Hit, ScanResult


def guard_arguments(arguments: str, guard: InlineGuard) -> ScanResult:
    try:
        value = json.loads(arguments)
    except ValueError:
        return guard.scan(arguments)
    hits: list[Hit] = []
    blocked: list[Hit] = []

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            result = guard.scan(item)
            hits.extend(result.hits)
            if result.blocked is not None:
                blocked.append(result.blocked)
            return result.text
        if isinstance(item, list):
            return [clean(element) for element in item]
        if isinstance(item, dict):
            return {key: clean(element) for key, element in item.items()}
        return item

    cleaned = clean(value)
    if blocked:
        return ScanResult("", hits, blocked[0])
    changed = any(hit.action == "redact" for hit in hits)
    # Untouched arguments go out exactly as the model wrote them; redacted ones re-serialised.
    return ScanResult(json.dumps(cleaned, ensure_ascii=False) if changed else arguments, hits)
