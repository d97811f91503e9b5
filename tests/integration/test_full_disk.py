"""A gateway whose state and audit files sit on a disk that fills up (a real tmpfs of a few MiB):
no request answers 500, a budget that cannot be reserved is an honest 503 with Retry-After and
nothing spent, answers that need no write still flow, the process survives, and it all works
again once space returns, with nothing committed before lost."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from sluicegate.testing.processes import GatewayProcess

ADMIN_KEY = "sg-admin-full-disk"


class SmallDisk:
    """A tmpfs mounted for the test; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / "filler"

    def fill(self) -> None:
        """Unbuffered writes, large then small, until not one byte more fits."""
        descriptor = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while True:
                        os.write(descriptor, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(descriptor)

    def free(self) -> None:
        self._filler.unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(root)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def config(disk: SmallDisk, *, budget: int | None) -> dict[str, Any]:
    return {
        "providers": {
            "demo": {
                "type": "scripted",
                "inline": {
                    "models": {
                        "m": [{"echo": True}],
                        "down": [{"fault": "server_error"}],
                        "slow": [{"text": " ".join(f"w{i}" for i in range(30)), "chunk_delay_s": 0.03}],
                    }
                },
            }
        },
        "models": {
            "r": {"use": ["demo/m"]},
            "assistant": {"use": ["demo/m"]},
            "slow_assistant": {"use": ["demo/slow"]},
            "down": {"use": ["demo/down"]},
            "slow": {"use": ["demo/slow"]},
        },
        "retry": {"attempts": 1},
        "state": {"backend": "sqlite", "path": str(disk.root / "state.db")},
        "audit": {"backend": "sqlite", "path": str(disk.root / "audit.db")},
        "auth": {"admin_key_env": "SG_ADMIN_KEY"},
        "budgets": {"tokens_per_hour_per_user": budget},
    }


def chat(url: str, content: str, **extra: Any) -> httpx.Response:
    body = {"model": "r", "max_tokens": 20, "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=30)


def used_tokens(url: str) -> int:
    rows = httpx.get(url + "/admin/budgets", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    rows.raise_for_status()
    return sum(int(row["used"]) for row in rows.json()["budgets"])


@pytest.fixture
def budgeted_gateway(small_disk: SmallDisk, tmp_path: Path) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(config(small_disk, budget=100_000), tmp_path, env={"SG_ADMIN_KEY": ADMIN_KEY})
    try:
        yield gateway
    finally:
        gateway.stop()


def test_a_full_disk_refuses_what_needs_a_budget_with_503_and_recovers(
    budgeted_gateway: GatewayProcess, small_disk: SmallDisk
) -> None:
    url = budgeted_gateway.url
    before = chat(url, "first words")
    assert before.status_code == 200
    spent = before.json()["usage"]["total_tokens"]
    assert used_tokens(url) == spent

    small_disk.fill()
    refused = [chat(url, f"message {i} with words enough to need a page") for i in range(3)]
    for reply in refused:
        assert reply.status_code == 503, reply.text
        error = reply.json()["error"]
        assert error["code"] == "state_unavailable"
        assert "disk is full" in error["message"]
        assert "nothing was spent" in error["message"]
        assert reply.headers["retry-after"] == "5"
        assert reply.headers["x-sluicegate-trace-id"]
    streamed = chat(url, "stream me", stream=True)
    assert streamed.status_code == 503
    assert streamed.json()["error"]["code"] == "state_unavailable"

    # The official client sees a server error it can retry, not a crash.
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="r", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 503

    # The assistant writes the session (claims it for its owner) before a model is asked: a store
    # that cannot write refuses the turn with nothing spent, before any frame.
    turn = httpx.post(url + "/v1/assistant/sessions/s1/messages", json={"content": "hello"}, timeout=30)
    assert turn.status_code == 503
    assert turn.json()["error"]["code"] == "state_unavailable"
    assert "nothing was spent" in turn.json()["error"]["message"]

    assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    assert used_tokens(url) == spent  # what was committed before the disk filled is still there

    small_disk.free()
    after = chat(url, "space is back")
    assert after.status_code == 200
    assert used_tokens(url) == spent + after.json()["usage"]["total_tokens"]
    _, stderr = budgeted_gateway.stop()
    assert "Traceback" not in stderr
    assert "database or disk is full" in stderr  # the operator is told why


def test_a_commit_refused_by_a_full_disk_is_counted_once_space_returns(
    budgeted_gateway: GatewayProcess, small_disk: SmallDisk
) -> None:
    url = budgeted_gateway.url
    before = used_tokens(url)
    body = {
        "model": "slow",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "go"}],
    }
    usage = None
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        for number, line in enumerate(response.iter_lines()):
            if number == 2:
                small_disk.fill()  # reserved already; the commit at the end will be refused
            if line.startswith("data: {") and '"usage"' in line and '"total_tokens"' in line:
                usage = json.loads(line[6:])["usage"]
    assert usage is not None
    small_disk.free()
    after = chat(url, "space is back")
    assert after.status_code == 200
    assert used_tokens(url) == before + usage["total_tokens"] + after.json()["usage"]["total_tokens"]


def test_an_answer_the_assistant_could_not_save_is_never_reported_as_not_spent(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    settings = config(small_disk, budget=None)
    settings["assistant"] = {"role": "slow_assistant"}
    gateway = GatewayProcess(settings, tmp_path, env={"SG_ADMIN_KEY": ADMIN_KEY})
    try:
        frames = []
        with httpx.stream(
            "POST", gateway.url + "/v1/assistant/sessions/s2/messages", json={"content": "hi"}, timeout=30
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                frames.append(line)
                if len(frames) == 4:
                    small_disk.fill()  # the session was claimed; saving the turn at the end fails
        body = "\n".join(frames)
        assert "event: token" in body
        error = json.loads(body.split("event: error\ndata: ", 1)[1].split("\n", 1)[0])
        assert error["type"] == "state_unavailable"
        assert "nothing was spent" not in error["message"]
        assert "spent" in error["message"]
    finally:
        small_disk.free()
        gateway.stop()


def test_a_full_disk_without_budgets_still_answers(small_disk: SmallDisk, tmp_path: Path) -> None:
    """Nothing a request needs is written first: breakers work without their state (fail open),
    the cache skips its write, the audit trail counts what it could not write."""
    gateway = GatewayProcess(config(small_disk, budget=None), tmp_path, env={"SG_ADMIN_KEY": ADMIN_KEY})
    try:
        assert chat(gateway.url, "warm up").status_code == 200
        small_disk.fill()
        replies = [chat(gateway.url, f"still here {i}", temperature=0) for i in range(3)]
        assert [r.status_code for r in replies] == [200] * 3
        assert [r.json()["choices"][0]["message"]["content"] for r in replies] == [
            f"still here {i}" for i in range(3)
        ]
        streamed = chat(gateway.url, "a stream too", stream=True)
        assert streamed.status_code == 200
        assert streamed.text.rstrip().endswith("data: [DONE]")
        # A failing provider's breaker cannot record the failure; the caller still gets the honest 503.
        failed = chat(gateway.url, "to a broken provider", model="down")
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == "all_providers_failed"
        metrics = httpx.get(gateway.url + "/metrics", timeout=10).text
        dropped = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("sluicegate_audit_events_dropped_total")
        ]
        assert dropped
        assert dropped[0] > 0
    finally:
        _, stderr = gateway.stop()
    assert "Traceback" not in stderr
    assert "works without its state" in stderr
