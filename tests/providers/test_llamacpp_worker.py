"""The embedded model in its supervised worker process: a native crash costs the requests in
flight, never the gateway. Real model, real worker, real signals."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.config.providers import WorkerSupervisionConfig
from sluicegate.config.schema import Config
from sluicegate.errors import WorkerCrashed
from sluicegate.providers.cpu import AMX_FLAGS, cpu_flags
from sluicegate.providers.llamacpp import LlamaCppProvider
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.server import create_app
from sluicegate.testing.processes import GatewayProcess
from sluicegate.testing.threads import UvicornThread
from sluicegate.types import CompletionRequest, Message

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra"),
]

LONG = CompletionRequest(
    "smollm2-135m",
    (Message("user", "Count from 1 to 200, one number per line."),),
    max_tokens=200,
    temperature=0,
)
SHORT = CompletionRequest("smollm2-135m", (Message("user", "Say hi"),), max_tokens=4, temperature=0)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: it only waits for its parent to read its status.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.fixture
async def provider() -> AsyncIterator[LlamaCppProvider]:
    local = LlamaCppProvider("local", supervision=WorkerSupervisionConfig(backoff_s=0.05))
    yield local
    await local.aclose()


@pytest.mark.parametrize("kill_with", [signal.SIGKILL, signal.SIGSEGV])
async def test_a_worker_killed_mid_stream_fails_that_request_and_a_new_worker_answers_the_next(
    provider: LlamaCppProvider, kill_with: signal.Signals
) -> None:
    exits: list[Any] = []
    provider.worker.listeners.append(exits.append)
    await provider.warm()
    first = provider.worker.pid
    assert first is not None
    received = []
    with pytest.raises(WorkerCrashed, match=kill_with.name):
        async for chunk in provider.stream(LONG):
            received.append(chunk.text)
            if len(received) == 3:
                os.kill(first, kill_with)
    assert len(received) >= 3
    completion = await provider.generate(SHORT)
    assert completion.text
    assert provider.worker.pid not in (None, first)
    assert not alive(first)
    [report] = exits
    assert (report.signal, report.action, report.in_flight, report.during_start) == (
        kill_with.name,
        "restart",
        1,
        False,
    )


async def test_a_worker_that_dies_during_its_probe_with_extra_buffers_is_started_again_without() -> None:
    """What an AMX fault looks like from outside: the worker dies from a signal before it is ready."""
    provider = LlamaCppProvider("local", cpu_extra_buffers="auto")
    if not provider.worker.extra_buffers:
        pytest.skip("auto already loads without extra buffers on this CPU")
    exits: list[Any] = []
    provider.worker.listeners.append(exits.append)
    warm = asyncio.create_task(provider.warm())
    starting = await asyncio.to_thread(_first_worker_started)
    os.kill(starting, signal.SIGSEGV)
    await warm
    try:
        assert not provider.worker.extra_buffers
        assert provider.worker.pid not in (None, starting)
        assert (await provider.generate(SHORT)).text
        [report] = exits
        assert (report.signal, report.during_start, report.action) == (
            "SIGSEGV",
            True,
            "fallback_without_extra_buffers",
        )
    finally:
        await provider.aclose()


def _first_worker_started() -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in _children(os.getpid()):
            if b"llamacpp_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        time.sleep(0.005)
    raise AssertionError("no worker started")


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param(
            "on",
            marks=pytest.mark.skipif(
                bool(cpu_flags() & AMX_FLAGS), reason="the extra-buffer path may fault where the CPU has AMX"
            ),
        ),
        "off",
    ],
)
async def test_the_model_answers_with_extra_buffers_on_and_off(setting: str) -> None:
    """`off` is what an AMX host gets by default: it must load and answer like `on`."""
    provider = LlamaCppProvider("local", cpu_extra_buffers=setting)  # type: ignore[arg-type]
    try:
        assert (await provider.generate(SHORT)).text
        assert provider.worker.last_ready["extra_buffers"] is (setting == "on")
    finally:
        await provider.aclose()


async def test_shutting_down_stops_the_worker(provider: LlamaCppProvider) -> None:
    await provider.warm()
    pid = provider.worker.pid
    assert pid is not None
    assert alive(pid)
    await provider.aclose()
    assert not alive(pid)
    assert provider.worker.state == "stopped"
    # Used again (an app started twice on one runtime), it starts a new worker.
    assert (await provider.generate(SHORT)).text


async def test_a_cancelled_stream_stops_the_generation_and_the_worker_serves_on(
    provider: LlamaCppProvider,
) -> None:
    stream = provider.stream(LONG)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    started = time.monotonic()
    assert (await provider.generate(SHORT)).text
    # The 200-token generation was stopped, not waited out (about 7 s at 30 tokens/s).
    assert time.monotonic() - started < 5


async def test_tokens_are_counted_by_the_worker(provider: LlamaCppProvider) -> None:
    short = await provider.count_tokens([Message("user", "hi")], "m")
    assert 0 < short < await provider.count_tokens([Message("user", "hi " * 100)], "m")


# -- through the gateway -------------------------------------------------------------------------


def gateway_config(tmp_path: Path, **local: Any) -> dict[str, Any]:
    return {
        "providers": {
            "local": {"type": "llamacpp", "models": ["smollm2-135m"], **local},
            "backup": {
                "type": "scripted",
                "inline": {"models": {"m": [{"text": " and the backup goes on."}]}},
            },
            "demo": {
                "type": "scripted",
                "inline": {"models": {"m": [{"text": "Other roles still answer."}]}},
            },
        },
        "models": {
            "reasoning": {"use": ["local/smollm2-135m", "backup/m"]},
            "solo": {"use": ["local/smollm2-135m"]},
            "other": {"use": ["demo/m"]},
        },
        "retry": {"attempts": 1},
        "state": {"backend": "sqlite", "path": str(tmp_path / "state.db")},
        "audit": {"path": str(tmp_path / "audit.db")},
    }


@pytest.fixture
def served() -> Iterator[Callable[[dict[str, Any]], tuple[Runtime, UvicornThread]]]:
    running: list[UvicornThread] = []

    def start(raw: dict[str, Any]) -> tuple[Runtime, UvicornThread]:
        runtime = build_runtime(Config.model_validate(raw))
        server = UvicornThread(create_app(runtime)).start()
        running.append(server)
        return runtime, server

    yield start
    for server in running:
        server.stop()


def worker_of(runtime: Runtime) -> Any:
    provider = runtime.providers["local"]
    assert isinstance(provider, LlamaCppProvider)
    return provider.worker


def stream_and_kill(
    client: httpx.Client, role: str, pid: int, kill_with: signal.Signals
) -> list[dict[str, Any]]:
    """Stream a long answer from `role` and kill the worker after the third token."""
    body = {
        "model": role,
        "stream": True,
        "max_tokens": 200,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Count from 1 to 200, one number per line."}],
    }
    events: list[dict[str, Any]] = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            events.append(json.loads(line[6:]))
            if len(events) == 3:
                os.kill(pid, kill_with)
    return events


@pytest.mark.parametrize("kill_with", [signal.SIGKILL, signal.SIGSEGV])
def test_a_crash_mid_stream_fails_over_and_the_gateway_serves_every_role_throughout(
    served: Callable[[dict[str, Any]], tuple[Runtime, UvicornThread]],
    tmp_path: Path,
    kill_with: signal.Signals,
) -> None:
    runtime, server = served(gateway_config(tmp_path, worker={"backoff_s": 1.0}))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        pid = worker_of(runtime).pid
        events = stream_and_kill(client, "reasoning", pid, kill_with)
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
        final = next(e for e in events if e.get("choices") and e["choices"][0].get("finish_reason"))
        assert text.endswith(" and the backup goes on.")
        assert final["x_sluicegate"]["failover"][0]["from"] == "local/smollm2-135m"
        # While the worker restarts, /readyz says so and other roles answer.
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["workers"]["local"]["state"] == "restarting"
        other = client.post(
            "/v1/chat/completions", json={"model": "other", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert other.json()["choices"][0]["message"]["content"] == "Other roles still answer."
        wait_until(lambda: client.get("/readyz").status_code == 200)
        answer = client.post(
            "/v1/chat/completions",
            json={"model": "solo", "max_tokens": 4, "messages": [{"role": "user", "content": "Say hi"}]},
        )
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"]
        assert worker_of(runtime).pid not in (None, pid)
    events_logged = asyncio.run(_worker_events(tmp_path / "audit.db"))
    assert [(e["signal"], e["action"], e["in_flight"]) for e in events_logged] == [
        (kill_with.name, "restart", 1)
    ]


async def _worker_events(path: Path) -> list[dict[str, Any]]:
    from sluicegate.audit.sqlite import SqliteEventLog

    log = SqliteEventLog(path)
    try:
        return [stored.event.payload for stored in await log.query(type="worker_exited")]
    finally:
        await log.aclose()


def test_a_crash_loop_opens_the_breaker_instead_of_restarting_without_end(
    served: Callable[[dict[str, Any]], tuple[Runtime, UvicornThread]], tmp_path: Path
) -> None:
    config = gateway_config(tmp_path, worker={"max_restarts": 2, "restart_window_s": 300, "backoff_s": 0.05})
    config["circuit_breaker"] = {"failure_threshold": 3, "reset_timeout_s": 300}
    runtime, server = served(config)
    worker = worker_of(runtime)
    pids: set[int] = set()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(3):
            wait_until(lambda: worker.pid is not None)
            pids.add(worker.pid)
            events = stream_and_kill(client, "solo", worker.pid, signal.SIGKILL)
            assert any("error" in e for e in events)
        assert worker.state == "crash_loop"
        refused = client.post(
            "/v1/chat/completions",
            json={"model": "solo", "max_tokens": 4, "messages": [{"role": "user", "content": "Say hi"}]},
        )
        assert refused.status_code == 503
        assert "circuit_open" in refused.json()["error"]["message"]
        time.sleep(0.5)
        # No more workers than the first and the configured restarts.
        assert len(pids) == 3
        assert worker.pid is None
        assert client.get("/readyz").json()["workers"]["local"]["state"] == "crash_loop"


def test_a_config_with_only_an_assistant_section_serves_the_embedded_roles(tmp_path: Path) -> None:
    gateway = GatewayProcess({"assistant": {"max_tokens": 40}}, tmp_path)
    try:
        children = _children(gateway.process.pid)
        assert len(children) == 1  # one worker for the one embedded model, not one per role
        answer = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "reasoning", "max_tokens": 8, "messages": [{"role": "user", "content": "Say hi"}]},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"]
    finally:
        gateway.stop()
    assert not any(alive(pid) for pid in children)


def test_a_gateway_killed_outright_leaves_no_worker_behind(tmp_path: Path) -> None:
    gateway = GatewayProcess({}, tmp_path)
    children = _children(gateway.process.pid)
    assert children
    gateway.kill()
    # The worker reads end-of-input on its pipe and exits by itself.
    wait_until(lambda: not any(alive(pid) for pid in children), timeout=15)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found
