"""Opening one new SQLite file from many connections at once: each must end in WAL mode with the
schema, none may answer "database is locked" (the switch to WAL skips SQLite's busy handler)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluicegate.sqlite_worker import SqliteWorker, open_database

SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY);"


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Threads switch every microsecond, so the connections' lock steps interleave finely: the
    race this guards against showed about once in a thousand openings like this."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_connections_opening_one_new_file_together_all_succeed(
    tmp_path: Path, eager_thread_switches: None
) -> None:
    failures: list[BaseException] = []
    modes: list[str] = []

    def open_one(path: Path) -> None:
        try:
            connection = open_database(path, SCHEMA)
            modes.append(connection.execute("PRAGMA journal_mode").fetchone()[0])
            connection.close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    for attempt in range(200):
        path = tmp_path / f"fresh-{attempt}.db"
        threads = [threading.Thread(target=open_one, args=(path,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert set(modes) == {"wal"}


async def test_the_worker_hands_back_results_and_errors_and_skips_what_was_cancelled(tmp_path: Path) -> None:
    worker = SqliteWorker(tmp_path / "w.db", SCHEMA, "test-worker")
    assert await worker.run(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        await worker.run(lambda: 1 / 0)
    assert await worker.run(lambda: worker.db().execute("SELECT count(*) FROM kv").fetchone()[0]) == 0

    busy, ran = threading.Event(), []
    blocking = asyncio.ensure_future(worker.run(busy.wait, 5))
    skipped = asyncio.ensure_future(worker.run(ran.append, "should not run"))
    await asyncio.sleep(0.05)
    skipped.cancel()
    busy.set()
    assert await blocking is True
    with pytest.raises(asyncio.CancelledError):
        await skipped
    assert await worker.run(ran.append, "runs") is None
    assert ran == ["runs"]

    await worker.aclose()
    assert await worker.run(lambda: "a new thread after closing") == "a new thread after closing"
    await worker.aclose()


def test_the_worker_serves_one_event_loop_after_another(tmp_path: Path) -> None:
    worker = SqliteWorker(tmp_path / "w.db", SCHEMA, "test-worker")
    assert asyncio.run(worker.run(lambda: 1)) == 1
    assert asyncio.run(worker.run(lambda: 2)) == 2
    asyncio.run(worker.aclose())


async def test_posted_work_runs_in_turn_and_a_failure_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = SqliteWorker(tmp_path / "w.db", SCHEMA, "test-worker")
    done: list[str] = []

    def fails() -> None:
        raise OSError("disk full")

    worker.post(done.append, "first")
    worker.post(fails)
    worker.post(done.append, "after the failure")
    with caplog.at_level("WARNING", logger="sluicegate.sqlite"):
        assert await worker.run(lambda: list(done)) == ["first", "after the failure"]
    assert "test-worker: fails failed: disk full" in caplog.text
    await worker.aclose()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own scheduling policy is Linux's")
async def test_a_background_worker_is_a_batch_thread_and_the_loop_is_not(tmp_path: Path) -> None:
    """The audit trail's writer never preempts the event loop when it wakes, where the two share
    a core; it keeps its fair share of the CPU (a nicer thread starved behind a saturated loop)."""
    worker = SqliteWorker(tmp_path / "w.db", SCHEMA, "test-worker", background=True)
    policy = await worker.run(lambda: os.sched_getscheduler(threading.get_native_id()))
    assert policy == os.SCHED_BATCH
    assert os.sched_getscheduler(threading.get_native_id()) == os.SCHED_OTHER
    assert await worker.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())) == (
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    )
    await worker.aclose()
