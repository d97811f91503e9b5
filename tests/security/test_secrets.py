"""A planted canary key must not show up in any output channel: responses and errors, logs,
the audit trail, metrics, or the admin API — even when the upstream quotes it back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from sluicegate.testing import MockUpstream
from sluicegate.testing.processes import GatewayProcess

CANARY = "sk-canary-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ADMIN = "admin-canary-key-123456"


def test_a_planted_key_leaks_nowhere(threaded_upstream: Callable[..., MockUpstream], tmp_path: Path) -> None:
    upstream = threaded_upstream(
        {
            "ok": [{"text": "fine"}],
            "quotes-key-400": [{"fault": "bad_request", "echo_credentials": True}],
            "quotes-key-401": [{"fault": "auth", "echo_credentials": True}],
            "quotes-key-500": [{"fault": "server_error", "echo_credentials": True}],
            "quotes-key-mid-stream": [
                {"text": "a b c", "fault": "error_event", "fault_after_chunks": 1, "echo_credentials": True}
            ],
        }
    )
    config = {
        "providers": {
            "oa": {
                "type": "openai",
                "base_url": upstream.url + "/v1",
                "api_key_env": "CANARY_KEY",
                "models": [
                    "ok",
                    "quotes-key-400",
                    "quotes-key-401",
                    "quotes-key-500",
                    "quotes-key-mid-stream",
                ],
            },
            "an": {
                "type": "anthropic",
                "base_url": upstream.url,
                "api_key_env": "CANARY_KEY",
                "models": ["quotes-key-400"],
            },
        },
        "models": {"r": {"use": ["oa/ok"]}},
        "audit": {"store_content": True, "path": str(tmp_path / "audit.db")},
        "auth": {"admin_key_env": "ADMIN_KEY"},
        "server": {"log_level": "debug"},
    }
    secrets = {"CANARY_KEY": CANARY, "ADMIN_KEY": ADMIN}
    gateway = GatewayProcess(config, tmp_path, env=secrets)
    url = gateway.url
    seen: list[str] = []
    try:
        for model in [
            "r",
            "oa/quotes-key-400",
            "oa/quotes-key-401",
            "oa/quotes-key-500",
            "an/quotes-key-400",
        ]:
            for stream in (False, True):
                response = httpx.post(
                    url + "/v1/chat/completions",
                    timeout=30,
                    json={
                        "model": model,
                        "stream": stream,
                        "messages": [{"role": "user", "content": "hello"}],
                    },
                )
                seen.append(f"{response.status_code} {response.headers} {response.text}")
        response = httpx.post(
            url + "/v1/chat/completions",
            timeout=30,
            json={
                "model": "oa/quotes-key-mid-stream",
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        seen.append(response.text)
        assert "Incorrect API key provided" in " ".join(seen)  # the upstream did quote it...
        admin = {"authorization": f"Bearer {ADMIN}"}
        for endpoint in (
            "/admin/circuits",
            "/admin/budgets",
            "/admin/events?limit=1000",
            "/metrics",
            "/v1/models",
        ):
            seen.append(httpx.get(url + endpoint, headers=admin).text)
    finally:
        stdout, stderr = gateway.stop()
    seen += [stdout, stderr]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLUICEGATE")}, **secrets}
    audit = subprocess.run(
        [
            sys.executable,
            "-m",
            "sluicegate.cli.main",
            "audit",
            "tail",
            "--json",
            "-n",
            "1000",
            "--config",
            str(gateway.config_path),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    seen += [audit.stdout, audit.stderr]
    seen.append((tmp_path / "audit.db").read_bytes().decode("latin-1"))
    everything = "\n".join(seen)
    assert len(json.loads(audit.stdout.splitlines()[0])) > 0
    assert "[REDACTED]" in everything  # ...and it was scrubbed
    assert CANARY not in everything
    assert CANARY[:20] not in everything


def test_a_short_key_is_scrubbed_where_it_stands_alone() -> None:
    from sluicegate.security.secrets import MASK, SecretRegistry

    registry = SecretRegistry()
    registry.register("k3y9")
    registry.register("sk-long-secret-value")
    assert registry.scrub("Incorrect API key provided: k3y9.") == f"Incorrect API key provided: {MASK}."
    assert registry.scrub('{"key": "k3y9"}') == f'{{"key": "{MASK}"}}'
    # Inside a longer word it is not the key: ordinary text stays as it was.
    assert registry.scrub("k3y99 and xk3y9") == "k3y99 and xk3y9"
    assert registry.scrub("prefix-sk-long-secret-value-suffix") == f"prefix-{MASK}-suffix"
