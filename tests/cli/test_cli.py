"""The `sluicegate` command as users run it: a real subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SCRIPTED = {
    "providers": {
        "demo": {
            "type": "scripted",
            "inline": {
                "models": {"m": [{"text": "Hello from the script."}], "down": [{"fault": "server_error"}]}
            },
        }
    },
    "models": {"reasoning": {"use": ["demo/m"]}, "broken": {"use": ["demo/down"]}},
}


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEGATE")}
    env["COLUMNS"] = "200"  # tables on one line each
    return subprocess.run(
        [sys.executable, "-m", "sluicegate.cli.main", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(yaml.safe_dump(SCRIPTED), encoding="utf-8")
    return path


def test_init_writes_a_valid_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "sluicegate.yaml").read_text().startswith("# sluicegate.yaml")
    again = run("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "exists" in again.stderr
    assert run("models", cwd=tmp_path).returncode == 0


def test_models_lists_roles(config_file: Path) -> None:
    result = run("models", "--config", str(config_file), cwd=config_file.parent)
    assert result.returncode == 0
    assert "reasoning" in result.stdout
    assert "demo/m" in result.stdout


def test_chat_one_message(config_file: Path) -> None:
    result = run("chat", "hi", "--config", str(config_file), cwd=config_file.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello from the script."


def test_chat_interactive_loop(config_file: Path) -> None:
    result = run("chat", "--config", str(config_file), cwd=config_file.parent, stdin="one\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Hello from the script.") == 2


def test_chat_failure_is_one_line(config_file: Path) -> None:
    result = run("chat", "hi", "-m", "broken", "--config", str(config_file), cwd=config_file.parent)
    assert result.returncode == 1
    assert "Every provider failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {port: 70000}\n")
    result = run("serve", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.yaml: server.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_key_env_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  o: {type: openai, api_key_env: SLUICEGATE_TEST_UNSET_KEY}\n")
    result = run("serve", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "SLUICEGATE_TEST_UNSET_KEY is not set" in result.stderr


def test_audit_tail_reads_what_chat_wrote(config_file: Path) -> None:
    cwd = config_file.parent
    assert run("chat", "hi", "--config", str(config_file), cwd=cwd).returncode == 0
    result = run("audit", "tail", "--json", "--config", str(config_file), cwd=cwd)
    assert result.returncode == 0, result.stderr
    trail = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["trace_id"] for e in trail} == {trail[0]["trace_id"]}
    moves = [e["payload"]["to_state"] for e in trail if e["type"] == "routing_transition"]
    assert (moves[0], moves[-1]) == ("AUTHORIZE", "COMPLETED")
    events = [e for e in trail if e["type"] != "routing_transition"]
    assert [e["type"] for e in events] == ["request_received", "provider_attempt", "request_completed"]
    trace = events[0]["trace_id"]
    only = run(
        "audit",
        "tail",
        "--type",
        "request_completed",
        "--trace",
        trace,
        "--config",
        str(config_file),
        cwd=cwd,
    )
    assert only.stdout.count("request_completed") == 1


def test_audit_tail_follow_prints_new_events(config_file: Path) -> None:
    cwd = config_file.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEGATE")}
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sluicegate.cli.main",
            "audit",
            "tail",
            "--follow",
            "--json",
            "--config",
            str(config_file),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        assert run("chat", "hi", "--config", str(config_file), cwd=cwd).returncode == 0
        assert follower.stdout is not None
        seen = [json.loads(follower.stdout.readline())["type"] for _ in range(3)]
        # The orchestrator's moves come between the events; the request's record ends the trail.
        while seen[-1] != "request_completed" and len(seen) < 30:
            seen.append(json.loads(follower.stdout.readline())["type"])
        assert [kind for kind in seen if kind != "routing_transition"] == [
            "request_received",
            "provider_attempt",
            "request_completed",
        ]
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


def test_keys_create_list_revoke(config_file: Path) -> None:
    cwd = config_file.parent
    created = run(
        "keys",
        "create",
        "--user",
        "ann",
        "--tokens-per-hour",
        "5000",
        "--roles",
        "reasoning",
        "--config",
        str(config_file),
        cwd=cwd,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk-sg-")
    listed = run("keys", "list", "--config", str(config_file), cwd=cwd)
    assert "ann" in listed.stdout
    assert "5000" in listed.stdout
    assert secret not in listed.stdout + listed.stderr
    assert secret not in (cwd / ".sluicegate" / "state.db").read_bytes().decode("latin-1")
    key_id = created.stderr.split()[1]
    assert "revoked" in run("keys", "revoke", key_id, "--config", str(config_file), cwd=cwd).stdout
    assert "revoked" in run("keys", "list", "--config", str(config_file), cwd=cwd).stdout
    assert (
        run(
            "keys", "create", "--user", "x", "--roles", "nope", "--config", str(config_file), cwd=cwd
        ).returncode
        == 2
    )


def test_models_shows_breaker_states_from_the_store(config_file: Path) -> None:
    cwd = config_file.parent
    for _ in range(3):
        run("chat", "hi", "-m", "broken", "--config", str(config_file), cwd=cwd)
    result = run("models", "--config", str(config_file), cwd=cwd)
    assert "demo/down (open)" in result.stdout
    assert "demo/m (closed)" in result.stdout


def test_workers_never_load_the_embedded_model_once_per_process(tmp_path: Path) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(
        yaml.safe_dump({"state": {"backend": "redis", "url": "redis://127.0.0.1:9/0"}}), encoding="utf-8"
    )
    result = run("serve", "--workers", "3", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "would load the embedded model (local) 3 times" in result.stderr


def test_workers_need_shared_state(config_file: Path) -> None:
    result = run("serve", "--workers", "2", "--config", str(config_file), cwd=config_file.parent)
    assert result.returncode == 2
    assert "state.backend: redis" in result.stderr
