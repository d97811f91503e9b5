"""One SQLite connection owned by one worker thread: the event loop never waits on disk, and the
connection is never shared between threads. WAL mode, so readers and a writer (this process or
another on the same file) do not block each other."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
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


class SqliteWorker:
    def __init__(self, path: Path, schema: str, name: str) -> None:
        self.path = path
        self._schema = schema
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        """The connection; only ever called on the worker thread."""
        if self._connection is None:
            self._connection = open_database(self.path, self._schema)
        return self._connection

    async def run(self, work: Any, *args: Any) -> Any:
        if self._executor is None:  # first use, or used again after aclose (a restarted app)
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def aclose(self) -> None:
        if self._executor is None:
            return

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await self.run(close)
        self._executor.shutdown(wait=True)
        self._executor = None
