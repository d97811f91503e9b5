"""The tier-0 gate (seed 003 ADR-0012): declarative rules checked before any token is spent —
blocked users, a maximum input size, deny patterns, and a scope that the request must match.
A refusal names its rule and says why; nothing reaches a model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sluicegate.config.schema import Tier0Config
from sluicegate.types import Message


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    reason: str


class Tier0Gate:
    def __init__(self, settings: Tier0Config) -> None:
        self._settings = settings
        self._blocked = {user.lower() for user in settings.blocked_users}
        self._deny = [(rule, re.compile(rule.pattern)) for rule in settings.deny]
        self._scope = [(rule, re.compile(rule.pattern)) for rule in settings.require_any]

    @property
    def enabled(self) -> bool:
        """Whether any rule is configured (with none, the gate is not a stage of the pipeline)."""
        s = self._settings
        return bool(self._blocked or s.max_input_chars is not None or self._deny or self._scope)

    def check(self, user: str, messages: Sequence[Message]) -> Refusal | None:
        if user.lower() in self._blocked:
            return Refusal("blocked_user", "This user may not use the assistant.")
        text = "\n".join(m.content for m in messages if m.role == "user")
        limit = self._settings.max_input_chars
        if limit is not None and len(text) > limit:
            return Refusal("max_input", f"The input is longer than {limit} characters.")
        for rule, pattern in self._deny:
            if pattern.search(text):
                return Refusal(rule.name, rule.reason)
        if self._scope and not any(pattern.search(text) for _, pattern in self._scope):
            first = self._scope[0][0]
            return Refusal(first.name, first.reason)
        return None
