"""Secret hygiene: every provider key loaded by this process is registered here, and every
text that leaves through a log line, an error message or a stored event is scrubbed of them.
Upstreams do echo keys back ("Incorrect API key provided: sk-…"); this is where they stop."""

from __future__ import annotations

import re
import threading
from collections.abc import MutableMapping
from typing import Any

MASK = "[REDACTED]"
# Shorter keys are still secrets (an upstream echoed one back verbatim), but inside words they
# would mangle ordinary text: they are scrubbed where they stand alone, longer ones anywhere.
SHORT_SECRET_LENGTH = 8


def _pattern_of(secret: str) -> str:
    escaped = re.escape(secret)
    if len(secret) >= SHORT_SECRET_LENGTH:
        return escaped
    return rf"(?<![A-Za-z0-9_\-]){escaped}(?![A-Za-z0-9_\-])"


class SecretRegistry:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        if not secret:
            return
        with self._lock:
            if secret not in self._secrets:
                self._secrets.add(secret)
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(_pattern_of(s) for s in ordered))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(v) for v in value)
        return value


SECRETS = SecretRegistry()


def scrub_log_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: no registered secret reaches a log line."""
    for key, value in list(event.items()):
        event[key] = SECRETS.scrub_value(value)
    return event
