"""The inline guard as the pipeline uses it: the configured rules and actions, a fresh scanner
per response, and what a hit leaves behind (trace, audit event, metric)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sluicegate.config.schema import GuardrailsConfig
from sluicegate.guardrails.echo import remembered
from sluicegate.guardrails.inline import QuickCheck, ScanResult, StreamScanner, grouped
from sluicegate.guardrails.rules import Rule, default_rules


class InlineGuard:
    def __init__(self, settings: GuardrailsConfig) -> None:
        self.rules: list[Rule] = default_rules(settings.competitors)
        self._pii = [rule for rule in self.rules if rule.category == "pii"]
        self.actions = settings.inline.model_dump()
        self._groups = grouped(self.rules, self.actions)
        self._quick = QuickCheck.of(self._groups)

    @property
    def enabled(self) -> bool:
        return any(action != "off" for action in self.actions.values())

    def remembered(self, request_texts: Iterable[str]) -> list[Rule]:
        """The request's PII values as echo rules (docs/pii.md), when PII is guarded at all."""
        if self.actions.get("pii", "off") == "off":
            return []
        return remembered(request_texts, self._pii)

    def scanner(self, echoes: Sequence[Rule] = ()) -> StreamScanner:
        if not echoes:
            return StreamScanner((), self.actions, self._groups, self._quick)
        extra = grouped(echoes, self.actions)
        return StreamScanner((), self.actions, [*self._groups, *extra], self._quick.joined(extra))

    def scan(self, text: str, echoes: Sequence[Rule] = ()) -> ScanResult:
        return self.scanner(echoes).finish(text)
