"""Alerts to operators: one per outage (every provider of a role failing), not one per
request; a recovery closes the outage. Each is a log event, and a webhook POST when
`alerts.webhook_url` is configured."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sluicegate.errors import Attempt

log = logging.getLogger("sluicegate.alerts")
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class Alerter:
    def __init__(
        self, deliver: Deliver | None = None, on_alert: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self._deliver = deliver
        self._on_alert = on_alert
        self._outages: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.sent: list[dict[str, Any]] = []

    def in_outage(self, role: str) -> bool:
        return role in self._outages

    def outage(self, role: str, attempts: Sequence[Attempt]) -> None:
        if role in self._outages:
            return
        self._outages[role] = time.time()
        self._emit(
            {
                "alert": "outage",
                "role": role,
                "attempts": [{"provider": a.provider, "model": a.model, "error": a.error} for a in attempts],
            }
        )

    def recovered(self, role: str) -> None:
        started = self._outages.pop(role, None)
        if started is not None:
            self._emit({"alert": "recovered", "role": role, "outage_s": round(time.time() - started, 3)})

    def _emit(self, event: dict[str, Any]) -> None:
        event = {"ts": time.time(), **event}
        self.sent.append(event)
        log.error("alert %s", event["alert"], extra={"alert": event})
        if self._on_alert is not None:
            self._on_alert(event)
        if self._deliver is not None:
            task = asyncio.create_task(self._safe_deliver(event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _safe_deliver(self, event: dict[str, Any]) -> None:
        assert self._deliver is not None
        try:
            await self._deliver(event)
        except Exception as exc:  # noqa: BLE001 - a webhook that fails must not fail a request
            log.warning("alert webhook failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
