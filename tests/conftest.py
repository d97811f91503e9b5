"""Shared fixtures: real servers on loopback, never patched internals."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sluicegate.config.schema import Config
from sluicegate.providers.script import Script
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.server import create_app
from sluicegate.state.base import StateStore
from sluicegate.state.memory import MemoryStateStore
from sluicegate.state.redis import RedisStateStore
from sluicegate.state.sqlite import SqliteStateStore
from sluicegate.testing import MockUpstream, servers
from sluicegate.testing.threads import LoopThread, UvicornThread


def _unavailable(exc: servers.ServerUnavailable) -> None:
    """Skipped on a developer machine without the package; under CI a missing server is an error."""
    if os.environ.get("CI"):
        pytest.fail(f"{exc}; .ci/run installs it")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    try:
        with servers.postgres_server() as dsn:
            yield dsn
    except servers.ServerUnavailable as exc:
        _unavailable(exc)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        with servers.redis_server() as url:
            yield url
    except servers.ServerUnavailable as exc:
        _unavailable(exc)


@pytest.fixture
def clean_redis_url(redis_url: str) -> str:
    """The session's Redis server, emptied: no keys or budgets left by an earlier test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    """Every state backend in turn: in memory, a SQLite file, a real Redis server (emptied first)."""
    backend: StateStore
    if request.param == "memory":
        backend = MemoryStateStore()
    elif request.param == "sqlite":
        backend = SqliteStateStore(tmp_path / "state.db")
    else:
        url = request.getfixturevalue("redis_url")
        import redis.asyncio as aioredis

        client = aioredis.from_url(url)
        await client.flushdb()
        await client.aclose()
        backend = RedisStateStore(url)
    yield backend
    await backend.aclose()


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State and audit files default to ./.sluicegate/: keep each test's in its own folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def upstream_factory() -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    """Start mock upstreams in the test's own event loop."""
    started: list[MockUpstream] = []

    async def start(models: dict[str, Any]) -> MockUpstream:
        upstream = MockUpstream(Script.parse({"models": models}))
        await upstream.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def threaded_upstream(loop_thread: LoopThread) -> Iterator[Callable[[dict[str, Any]], MockUpstream]]:
    """A mock upstream on a background loop, for tests whose client is synchronous."""
    started: list[MockUpstream] = []

    def start(models: dict[str, Any]) -> MockUpstream:
        upstream = MockUpstream(Script.parse({"models": models}))
        loop_thread.call(upstream.start)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        loop_thread.call(upstream.close)


@pytest.fixture
def gateway() -> Iterator[Callable[[dict[str, Any]], UvicornThread]]:
    """Serve a gateway built from a config dict; stopped after the test."""
    running: list[UvicornThread] = []

    def start(raw_config: dict[str, Any]) -> UvicornThread:
        runtime: Runtime = build_runtime(Config.model_validate(raw_config))
        server = UvicornThread(create_app(runtime)).start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()
