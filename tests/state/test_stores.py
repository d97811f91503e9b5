"""One suite, every state backend: memory, SQLite (a file) and Redis (a real server)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sluicegate.state.base import Document, StateStore
from sluicegate.state.redis import KeyedLocks
from sluicegate.state.sqlite import SqliteStateStore


@pytest.fixture
def store(state_store: StateStore) -> StateStore:
    return state_store


async def test_values_with_ttl(store: StateStore) -> None:
    await store.set("t:v", b"\x00bytes\xff", ttl_s=0.2)
    await store.set("t:forever", b"x")
    assert await store.get("t:v") == b"\x00bytes\xff"
    await asyncio.sleep(0.3)
    assert await store.get("t:v") is None
    assert await store.get("t:forever") == b"x"
    await store.delete("t:forever")
    assert await store.get("t:forever") is None


async def test_update_is_atomic_under_concurrency(store: StateStore) -> None:
    def increment(doc: Document | None) -> tuple[Document, int]:
        count = (doc or {}).get("n", 0) + 1
        return {"n": count}, count

    results = await asyncio.gather(*(store.update("t:counter", increment) for _ in range(100)))
    assert sorted(results) == list(range(1, 101))
    assert await store.read("t:counter") == {"n": 100}


async def test_writers_in_one_process_take_turns_instead_of_rerunning(store: StateStore) -> None:
    """Within one process no update is discarded and rerun: with Redis, a hundred writers all
    WATCHing one version turned a hundred updates into thousands of round trips."""
    calls = 0

    def increment(doc: Document | None) -> tuple[Document, None]:
        nonlocal calls
        calls += 1
        return {"n": (doc or {}).get("n", 0) + 1}, None

    await asyncio.gather(*(store.update("t:turns", increment) for _ in range(100)))
    assert await store.read("t:turns") == {"n": 100}
    assert calls == 100


async def test_update_can_delete_and_return(store: StateStore) -> None:
    await store.update("t:gone", lambda _: ({"a": 1}, None))
    result: Any = await store.update("t:gone", lambda doc: (None, doc))
    assert result == {"a": 1}
    assert await store.read("t:gone") is None


async def test_scan_by_prefix_takes_prefixes_literally(store: StateStore) -> None:
    for key in ("t:a_1", "t:a%2", "t:ab", "t:b"):
        await store.update(key, lambda _, k=key: ({"k": k}, None))  # type: ignore[misc]
    assert [k for k, _ in await store.scan("t:a_")] == ["t:a_1"]
    assert [k for k, _ in await store.scan("t:a")] == ["t:a%2", "t:a_1", "t:ab"]


async def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    first = SqliteStateStore(tmp_path / "state.db")
    await first.update("k", lambda _: ({"kept": True}, None))
    await first.aclose()
    second = SqliteStateStore(tmp_path / "state.db")
    assert await second.read("k") == {"kept": True}
    await second.aclose()


async def test_many_sqlite_stores_opening_one_new_file_at_once(tmp_path: Path) -> None:
    """Every store creates the schema on its first use; none may fail because another did first."""
    for attempt in range(5):
        stores = [SqliteStateStore(tmp_path / f"fresh-{attempt}.db") for _ in range(8)]

        def increment(doc: Document | None) -> tuple[Document, None]:
            return {"n": (doc or {}).get("n", 0) + 1}, None

        await asyncio.gather(*(store.update("n", increment) for store in stores))
        assert [await store.read("n") for store in stores] == [{"n": 8}] * 8
        for store in stores:
            await store.aclose()


async def test_two_sqlite_stores_on_one_file_do_not_lose_updates(tmp_path: Path) -> None:
    stores = [SqliteStateStore(tmp_path / "shared.db") for _ in range(2)]

    def increment(doc: Document | None) -> tuple[Document, None]:
        return {"n": (doc or {}).get("n", 0) + 1}, None

    await asyncio.gather(*(stores[i % 2].update("n", increment) for i in range(60)))
    assert await stores[0].read("n") == {"n": 60}
    for store in stores:
        await store.aclose()


async def test_keyed_locks_serialize_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps = 0

    async def hold(key: str) -> None:
        nonlocal overlaps
        async with locks.hold(key):
            overlaps += key in inside
            inside.append(key)
            await asyncio.sleep(0.001)
            inside.remove(key)

    await asyncio.gather(*(hold(f"k{i % 3}") for i in range(30)))
    assert overlaps == 0
    assert len(locks) == 0  # nothing kept once nobody holds or waits
