"""SQLite state (WAL mode): the embedded default, and correct across processes sharing the file.
`update` runs in BEGIN IMMEDIATE, which takes the database's write lock, so concurrent writers —
threads or processes — serialise.

Two connections per store. The event loop's own does the small reads and writes of the request
path (a key, a breaker, a budget: microseconds), but never waits: it has no busy timeout, and
whatever SQLite answers "busy" to (another writer holds the lock) goes to the worker thread's
connection, which waits its turn there. The loop's connection never checkpoints either (a
checkpoint writes the database file and syncs it); the worker checkpoints after every
`CHECKPOINT_EVERY` of the loop's commits."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from sluicegate.errors import StateError
from sluicegate.sqlite_worker import SqliteWorker
from sluicegate.state.base import Change, Document, R, dump

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""
# A budget's update appends a page to the WAL: a checkpoint every 1,000 of the loop's commits is
# about SQLite's own default (a checkpoint at 1,000 pages). Each one syncs the files.
CHECKPOINT_EVERY = 1000
SWEEP_EVERY = 500  # value writes between sweeps of the expired ones
SQLITE_BUSY = 5

T = TypeVar("T")


def _busy(exc: sqlite3.Error) -> bool:
    # SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT).
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == SQLITE_BUSY


class SqliteStateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._worker = SqliteWorker(path, SCHEMA, "state-sqlite")
        self._db = self._worker.db
        self._writes = 0
        self._loop_commits = 0
        self._on_loop: sqlite3.Connection | None = None

    async def _loop_connection(self) -> sqlite3.Connection:
        if self._on_loop is None:
            # The worker creates the file, its WAL mode and the schema (those may wait for a lock).
            await self._run(self._db)
        if self._on_loop is None:  # (not opened meanwhile by another first caller)
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=0)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._on_loop = connection
        return self._on_loop

    async def _now(self, work: Callable[..., T], *args: Any) -> T:
        """`work(connection, *args)` on the loop's connection, or on the worker's when the database
        is busy. `work` must leave no transaction open when it fails."""
        connection = self._on_loop or await self._loop_connection()
        try:
            return work(connection, *args)
        except sqlite3.Error as exc:
            if not _busy(exc):
                raise StateError(f"state store failed: {exc}") from exc
        return await self._run(lambda: work(self._db(), *args))

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        try:
            result: T = await self._worker.run(work, *args)
        except sqlite3.Error as exc:
            raise StateError(f"state store failed: {exc}") from exc
        return result

    def _committed_on_loop(self, connection: sqlite3.Connection) -> None:
        if connection is not self._on_loop:
            return
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0:
            self._worker.post(self._checkpoint)

    def _checkpoint(self) -> None:
        """RESTART, not PASSIVE: a passive checkpoint runs beside the loop's writes and is always
        a few frames behind when the next one starts, so the WAL would never be reused and grow
        for as long as traffic lasted. RESTART holds new writers back (they are "busy" on the
        loop, so they queue here) until the next one can start the WAL from its beginning."""
        self._db().execute("PRAGMA wal_checkpoint(RESTART)")

    async def get(self, key: str) -> bytes | None:
        row = await self._now(_select_one, "SELECT value, expires FROM kv WHERE key = ?", (key,))
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return bytes(row[0])

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        expires = time.time() + ttl_s if ttl_s is not None else None
        await self._now(self._set, key, value, expires)
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:  # now and then, sweep what expired
            self._worker.post(self._sweep)

    def _set(self, connection: sqlite3.Connection, key: str, value: bytes, expires: float | None) -> None:
        connection.execute(
            "INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)", (key, value, expires)
        )
        self._committed_on_loop(connection)

    def _sweep(self) -> None:
        self._db().execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))

    async def delete(self, key: str) -> None:
        await self._now(self._delete, key)

    def _delete(self, connection: sqlite3.Connection, key: str) -> None:
        with _transaction(connection):
            connection.execute("DELETE FROM kv WHERE key = ?", (key,))
            connection.execute("DELETE FROM docs WHERE key = ?", (key,))
        self._committed_on_loop(connection)

    async def read(self, key: str) -> Document | None:
        row = await self._now(_select_one, "SELECT doc FROM docs WHERE key = ?", (key,))
        return orjson.loads(row[0]) if row is not None else None

    async def update(self, key: str, change: Change[R]) -> R:
        return await self._now(self._update, key, change)

    def _update(self, connection: sqlite3.Connection, key: str, change: Change[R]) -> R:
        with _transaction(connection):
            row = connection.execute("SELECT doc FROM docs WHERE key = ?", (key,)).fetchone()
            new, result = change(orjson.loads(row[0]) if row is not None else None)
            if new is None:
                connection.execute("DELETE FROM docs WHERE key = ?", (key,))
            elif row is not None:
                # An UPDATE rewrites the row in place; INSERT OR REPLACE deletes it and inserts it
                # again, in the table and in its key index (a budget is updated twice a request).
                connection.execute("UPDATE docs SET doc = ? WHERE key = ?", (dump(new), key))
            else:
                connection.execute("INSERT INTO docs (key, doc) VALUES (?, ?)", (key, dump(new)))
        self._committed_on_loop(connection)
        return result

    async def scan(self, prefix: str) -> list[tuple[str, Document]]:
        # Any number of rows: on the worker.
        return await self._run(self._scan, prefix)

    def _scan(self, prefix: str) -> list[tuple[str, Document]]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = (
            self._db()
            .execute("SELECT key, doc FROM docs WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (escaped + "%",))
            .fetchall()
        )
        return [(row[0], orjson.loads(row[1])) for row in rows]

    async def aclose(self) -> None:
        if self._on_loop is not None:
            self._on_loop.close()
            self._on_loop = None
        await self._worker.aclose()


def _select_one(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    return connection.execute(sql, params).fetchone()


class _transaction:
    """BEGIN IMMEDIATE (the write lock, or "busy" at once on the loop's connection), COMMIT, or
    ROLLBACK when anything in it failed, the change itself included."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            try:
                self._connection.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")
