"""SQLite state (WAL mode): the embedded default, and correct across processes sharing the file.
One connection per store, owned by one worker thread; `update` runs in BEGIN IMMEDIATE, which
takes the database's write lock, so concurrent writers — threads or processes — serialise."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from sluicegate.errors import StateError
from sluicegate.sqlite_worker import SqliteWorker, open_database
from sluicegate.state.base import Change, Document, R, dump

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""


class SqliteStateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._worker = SqliteWorker(path, SCHEMA, "state-sqlite")
        self._db = self._worker.db
        self._writes = 0
        self._reader: sqlite3.Connection | None = None

    def _read_now(self, sql: str, params: tuple[Any, ...]) -> Any:
        """A point read on the event loop's own connection. Reading one small row from a WAL
        database takes microseconds, far less than handing it to the worker thread and back
        (which the hot path — keys, breakers, the cache — would otherwise pay on every request).
        Writes stay on the worker."""
        try:
            if self._reader is None:
                self._reader = open_database(self.path, SCHEMA)
            return self._reader.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise StateError(f"state store failed: {exc}") from exc

    async def _run(self, work: Any, *args: Any) -> Any:
        try:
            return await self._worker.run(work, *args)
        except sqlite3.Error as exc:
            raise StateError(f"state store failed: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        row = self._read_now("SELECT value, expires FROM kv WHERE key = ?", (key,))
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return bytes(row[0])

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        expires = time.time() + ttl_s if ttl_s is not None else None
        await self._run(self._set, key, value, expires)

    def _set(self, key: str, value: bytes, expires: float | None) -> None:
        db = self._db()
        db.execute("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)", (key, value, expires))
        self._writes += 1
        if self._writes % 500 == 0:  # now and then, sweep what expired
            db.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))

    async def delete(self, key: str) -> None:
        await self._run(self._delete, key)

    def _delete(self, key: str) -> None:
        db = self._db()
        db.execute("DELETE FROM kv WHERE key = ?", (key,))
        db.execute("DELETE FROM docs WHERE key = ?", (key,))

    async def read(self, key: str) -> Document | None:
        row = self._read_now("SELECT doc FROM docs WHERE key = ?", (key,))
        return orjson.loads(row[0]) if row is not None else None

    async def update(self, key: str, change: Change[R]) -> R:
        result: R = await self._run(self._update, key, change)
        return result

    def _update(self, key: str, change: Change[R]) -> R:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT doc FROM docs WHERE key = ?", (key,)).fetchone()
            new, result = change(orjson.loads(row[0]) if row is not None else None)
            if new is None:
                db.execute("DELETE FROM docs WHERE key = ?", (key,))
            elif row is not None:
                # An UPDATE rewrites the row in place; INSERT OR REPLACE deletes it and inserts it
                # again, in the table and in its key index (a budget is updated twice a request).
                db.execute("UPDATE docs SET doc = ? WHERE key = ?", (dump(new), key))
            else:
                db.execute("INSERT INTO docs (key, doc) VALUES (?, ?)", (key, dump(new)))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def scan(self, prefix: str) -> list[tuple[str, Document]]:
        rows: list[tuple[str, Document]] = await self._run(self._scan, prefix)
        return rows

    def _scan(self, prefix: str) -> list[tuple[str, Document]]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = (
            self._db()
            .execute("SELECT key, doc FROM docs WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (escaped + "%",))
            .fetchall()
        )
        return [(row[0], orjson.loads(row[1])) for row in rows]

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await self._worker.aclose()
