"""One SQLite connection owned by one worker thread: the event loop never waits on disk, and the
connection is never shared between threads. WAL mode, so readers and a writer (this process or
another on the same file) do not block each other."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_S = 30.0


def _enter_wal_mode(connection: sqlite3.Connection) -> None:
    """Switching a new file to WAL needs its exclusive lock, and SQLite answers "database is
    locked" at once — without its busy handler — when another connection is switching the same
    file at that moment; so the switch is retried here, within the same busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.001
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """A connection in WAL mode, the schema created. The schema is written under BEGIN IMMEDIATE:
    a write that starts as a read (CREATE ... IF NOT EXISTS) fails at once with "database is
    locked" when another connection wrote first — two stores opening one new file do — since
    SQLite never retries a stale snapshot; taking the write lock first waits for it instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    _enter_wal_mode(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(f"BEGIN IMMEDIATE;\n{schema}\nCOMMIT;")
    return connection


# No future and no loop: posted housekeeping that nobody waits for.
Job = tuple[
    Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any] | None", asyncio.AbstractEventLoop | None
]
log = logging.getLogger("sluicegate.sqlite")


class SqliteWorker:
    """The thread that owns the connection, and its queue of work. Not `run_in_executor`: a
    thread pool's submit, its futures and the chaining of one onto an asyncio future cost the
    event loop about 30 µs a call, and a guarded request makes two (budget reserve and settle).
    Here a call is a queue put and, when done, a callback the loop is woken for (uvloop folds
    the wake-ups of a burst into one)."""

    def __init__(self, path: Path, schema: str, name: str, *, background: bool = False) -> None:
        """`background`: the thread's work may lag behind the requests (the audit trail's
        batches). On Linux it is then scheduled as a batch thread (SCHED_BATCH): its fair share of
        the CPU, but it never preempts the event loop when it wakes, so where the two share a core
        a request is not held up by a batch of rows."""
        self.path = path
        self._schema = schema
        self._name = name
        self._background = background
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        """The connection; only ever called on the worker thread."""
        if self._connection is None:
            self._connection = open_database(self.path, self._schema)
        return self._connection

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)` on the worker thread. A call whose caller has gone away before the thread
        reached it is skipped, as an executor skips a cancelled job."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._start()
        self._jobs.put((work, args, future, loop))
        return await future

    def post(self, work: Callable[..., Any], *args: Any) -> None:
        """`work(*args)` on the worker thread, in turn, with nobody waiting for it (a checkpoint, a
        sweep): a failure is logged."""
        self._start()
        self._jobs.put((work, args, None, None))

    def _start(self) -> None:
        if self._thread is None:  # first use, or used again after aclose (a restarted app)
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        if self._background and sys.platform == "linux":
            # A thread's own policy on Linux (its id is a task id); any user may choose it.
            with contextlib.suppress(OSError):
                os.sched_setscheduler(threading.get_native_id(), os.SCHED_BATCH, os.sched_param(0))
        while (job := self._jobs.get()) is not None:
            work, args, future, loop = job
            if future is None or loop is None:
                try:
                    work(*args)
                except Exception as exc:  # noqa: BLE001 - housekeeping; the next one may succeed
                    log.warning("%s: %s failed: %s", self._name, getattr(work, "__name__", "work"), exc)
                continue
            if future.cancelled():
                continue
            try:
                outcome: tuple[bool, Any] = (True, work(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, as an executor would
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, outcome)

    async def aclose(self) -> None:
        if self._thread is None:
            return

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await self.run(close)
        thread, self._thread = self._thread, None
        self._jobs.put(None)
        await asyncio.to_thread(thread.join)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # cancelled while the thread worked on it
        return
    succeeded, value = outcome
    if succeeded:
        future.set_result(value)
    else:
        future.set_exception(value)
