"""A loopback HTTP server that records the JSON bodies POSTed to it (alert webhooks, for tests)."""

from __future__ import annotations

import json
from typing import Any

from sluicegate.testing.canned import CannedUpstream


class WebhookReceiver(CannedUpstream):
    def __init__(self) -> None:
        super().__init__(204)

    @property
    def received(self) -> list[tuple[str, Any]]:
        return [(request.path, json.loads(request.body or b"null")) for request in self.requests]
