"""`sluicegate serve --workers N`: N processes sharing state through Redis."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from sluicegate.testing import MockUpstream
from sluicegate.testing.processes import GatewayProcess


def test_workers_serve_and_share_one_breaker(
    threaded_upstream: Callable[..., MockUpstream], clean_redis_url: str, tmp_path: Path
) -> None:
    upstream = threaded_upstream({"ok": [{"text": "fine"}], "down": [{"fault": "server_error"}]})
    config = {
        "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["ok", "down"]}},
        "models": {"r": {"use": ["up/ok"]}, "broken": {"use": ["up/down"]}},
        "state": {"backend": "redis", "url": clean_redis_url},
        "retry": {"attempts": 1},
        "audit": {"path": str(tmp_path / "audit.db")},
    }
    gateway = GatewayProcess(config, tmp_path, args=("--workers", "2"))
    try:
        workers = subprocess.run(["pgrep", "-P", str(gateway.process.pid)], capture_output=True, text=True)
        assert len(workers.stdout.split()) >= 2
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            body = {"messages": [{"role": "user", "content": "hi"}]}
            assert all(
                client.post("/v1/chat/completions", json={**body, "model": "r"}).status_code == 200
                for _ in range(20)
            )
            for _ in range(6):
                client.post("/v1/chat/completions", json={**body, "model": "broken"})
        # Three failures open the shared breaker, whichever workers saw them: the rest never reached it.
        assert upstream.calls["down"] == 3
    finally:
        gateway.stop()
