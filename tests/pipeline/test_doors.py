"""Every door runs the one pipeline: the same input through /v1/chat/completions, the assistant
endpoint and `sluicegate chat` passes the same stages (PII echoed by the model is redacted on all
of them, and the audit trail shows the same states)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from sluicegate.testing.threads import UvicornThread

PHONE = "415-555-0132"
MESSAGE = f"Please call me back at {PHONE} tomorrow."


def settings(folder: Path) -> dict[str, Any]:
    return {
        "providers": {"s": {"type": "scripted", "inline": {"models": {"echo": [{"echo": True}]}}}},
        "models": {"reasoning": {"use": ["s/echo"]}},
        # The assistant's domain pack off: a conversation turn differs from a chat only by its session.
        "assistant": {"pack": None, "routing": False},
        "state": {"backend": "sqlite", "path": str(folder / "state.db")},
        "audit": {"path": str(folder / "audit.db")},
        "state_dir": str(folder),
    }


def cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEGATE")}
    return subprocess.run(
        [sys.executable, "-m", "sluicegate.cli.main", *args, "--config", str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def trail(url: str, trace_id: str) -> tuple[list[str], list[str]]:
    """(the states the request went through, the guardrail rules that acted on it)."""
    events = httpx.get(url + "/admin/events", params={"trace_id": trace_id}).json()["events"]
    states = [e["payload"]["to_state"] for e in events if e["type"] == "routing_transition"]
    rules = [e["payload"]["rule"] for e in events if e["type"] == "guardrail_hit"]
    return states, rules


def cli_traces(url: str) -> dict[str, str]:
    """The trace id of each CLI request, by whether it was a session turn."""
    received = httpx.get(url + "/admin/events", params={"type": "request_received", "limit": 1000}).json()
    found = {}
    for event in received["events"]:
        if event["payload"]["endpoint"] == "cli:chat":
            states, _ = trail(url, event["trace_id"])
            found["session" if "MEMORY_LOAD" in states else "chat"] = event["trace_id"]
    return found


def test_the_same_input_passes_the_same_stages_at_every_door(
    gateway: Callable[[dict[str, Any]], UvicornThread], tmp_path: Path
) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(yaml.safe_dump(settings(tmp_path)), encoding="utf-8")
    server = gateway(settings(tmp_path))

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="reasoning", stream=True, messages=[{"role": "user", "content": MESSAGE}]
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    chat_trace = chunks[0].id.removeprefix("chatcmpl-")

    turn = httpx.post(
        server.url + "/v1/assistant/sessions/s1/messages", json={"content": MESSAGE}, timeout=30
    )
    blocks = [dict(line.split(": ", 1) for line in b.splitlines()) for b in turn.text.strip().split("\n\n")]
    frames = [(b["event"], json.loads(b["data"])) for b in blocks]
    assistant_text = "".join(data["text"] for kind, data in frames if kind == "token")
    assistant_trace = frames[-1][1]["trace_id"]

    said = cli("chat", MESSAGE, config=config)
    in_session = cli("chat", "--session", "s2", MESSAGE, config=config)
    assert said.returncode == 0, said.stderr
    assert in_session.returncode == 0, in_session.stderr

    # The model echoed the phone number; no door let it through.
    for shown in (streamed, assistant_text, said.stdout, in_session.stdout):
        assert PHONE not in shown
        assert "Please call me back at" in shown
    assert "pii.phone" in said.stderr  # the terminal says what the guardrail did

    traces = cli_traces(server.url)
    chat_states, chat_rules = trail(server.url, chat_trace)
    cli_states, cli_rules = trail(server.url, traces["chat"])
    turn_states, turn_rules = trail(server.url, assistant_trace)
    session_states, session_rules = trail(server.url, traces["session"])
    assert chat_states == cli_states == ["AUTHORIZE", "MODEL_SELECTION", "LLM_CALL", "COMPLETED"]
    assert (
        turn_states
        == session_states
        == [
            "AUTHORIZE",
            "MEMORY_LOAD",
            "MODEL_SELECTION",
            "LLM_CALL",
            "MEMORY_UPDATE",
            "COMPLETED",
        ]
    )
    assert chat_rules == cli_rules == turn_rules == session_rules == ["pii.phone"]
