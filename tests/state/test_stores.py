"""One suite, every state backend: memory, SQLite (a file) and Redis (a real server)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from sluicegate.state.base import Document, StateStore
from sluicegate.state.redis import KeyedLocks
from sluicegate.state.sqlite import CHECKPOINT_EVERY, SqliteStateStore


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


def increment_n(doc: Document | None) -> tuple[Document, int]:
    count = (doc or {}).get("n", 0) + 1
    return {"n": count}, count


async def test_sqlite_update_waits_for_another_writer_without_holding_up_the_loop(tmp_path: Path) -> None:
    """The loop's connection never waits for SQLite's write lock: while another connection (here,
    another process's) holds it, the update waits on the worker thread and the loop runs on."""
    store = SqliteStateStore(tmp_path / "state.db")
    await store.update("n", increment_n)
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE docs SET doc = '{\"n\": 10}' WHERE key = 'n'")
    waiting = asyncio.ensure_future(store.update("n", increment_n))
    slept = time.monotonic()
    await asyncio.sleep(0.2)
    assert time.monotonic() - slept < 0.5
    assert not waiting.done()
    other.execute("COMMIT")
    assert await waiting == 11
    assert await store.read("n") == {"n": 11}
    assert await store.update("n", increment_n) == 12
    other.close()
    await store.aclose()


async def test_sqlite_update_whose_change_fails_leaves_the_document_and_the_connection_as_they_were(
    tmp_path: Path,
) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    await store.update("n", increment_n)

    def refuse(doc: Document | None) -> tuple[Document, None]:
        raise ValueError("over budget")

    with pytest.raises(ValueError, match="over budget"):
        await store.update("n", refuse)
    assert await store.update("n", increment_n) == 2
    await store.aclose()


async def test_sqlite_wal_is_checkpointed_while_the_loop_commits(tmp_path: Path) -> None:
    """The loop's connection never checkpoints; the worker does, every `CHECKPOINT_EVERY` commits,
    so the WAL is reused instead of growing with every update."""
    store = SqliteStateStore(tmp_path / "state.db")
    for count in range(4 * CHECKPOINT_EVERY):
        await store.update("n", increment_n)
        if count % 32 == 0:
            # The loop waits for the network now and then, as a served one does: only then does
            # the worker thread get the GIL for long enough to checkpoint.
            await asyncio.sleep(0.001)
    await store.scan("n")  # after the worker's last checkpoint
    probe = sqlite3.connect(tmp_path / "state.db")
    _, frames_in_wal, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    probe.close()
    # Each update appends a frame or more: unchecked, the WAL would hold every one of them (1,030
    # frames, when the checkpoints ran beside the writes and so never let the WAL start over).
    assert 0 < frames_in_wal < 3 * CHECKPOINT_EVERY
    assert await store.read("n") == {"n": 4 * CHECKPOINT_EVERY}
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
