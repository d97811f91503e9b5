"""The inline guard as the pipeline uses it: the configured rules and actions, a fresh scanner
per response, and what a hit leaves behind (trace, audit event, metric)."""

from __future__ import annotations

from sluicegate.config.schema import GuardrailsConfig
from sluicegate.guardrails.inline import ScanResult, StreamScanner, scan_text
from sluicegate.guardrails.rules import Rule, default_rules


class InlineGuard:
    def __init__(self, settings: GuardrailsConfig) -> None:
        self.rules: list[Rule] = default_rules(settings.competitors)
        self.actions = settings.inline.model_dump()

    @property
    def enabled(self) -> bool:
        return any(action != "off" for action in self.actions.values())

    def scanner(self) -> StreamScanner:
        return StreamScanner(self.rules, self.actions)

    def scan(self, text: str) -> ScanResult:
        return scan_text(text, self.rules, self.actions)
