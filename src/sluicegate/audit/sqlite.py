"""The event log in SQLite (WAL mode): the embedded default. One connection, owned by one
worker thread, so the event loop never waits on disk."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from sluicegate.audit.events import Event, Writable
from sluicegate.audit.log import StoredEvent
from sluicegate.sqlite_worker import SqliteWorker

UNINDEXED_TYPE = "routing_transition"
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    trace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_trace ON events (trace_id);
-- By type, for every type but the orchestrator's transitions: nine of a plain request's dozen rows
-- are transitions, and a second index entry costs each row about a fifth of its insert. They are
-- read by trace (above); a query by their type scans the ids, newest or oldest first.
DROP INDEX IF EXISTS events_type;
CREATE INDEX IF NOT EXISTS events_type_but_transitions ON events (type, id)
    WHERE type != 'routing_transition';
-- No index on ts: one costs every insert about 1.5 µs (a third of a row's cost), and only the
-- hourly purge would use it; ids follow time, so the purge finds its cut by bisecting them.
DROP INDEX IF EXISTS events_ts;
"""


# Rows an INSERT, from the largest: a batch is cut into statements of these sizes only, so the
# connection's cache holds five prepared statements, not one for every batch size seen (with the
# remainder's size free, a guarded load's peak RSS grew by 30 MiB). Few statements a batch: Python's
# sqlite3 lets go of the GIL around every statement step, and the writer, a background thread,
# gets it back from a busy event loop only at the interpreter's switch interval (5 ms). With 64
# rows an INSERT, a saturated core dropped 42 % of a guarded load's events; with 256, none.
STATEMENT_ROWS = (256, 64, 16, 4, 1)
COLUMNS = 5


@functools.lru_cache(maxsize=len(STATEMENT_ROWS))
def _insert_statement(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO events (ts, trace_id, type, schema_version, payload) VALUES {values}"


def statement_rows(db: sqlite3.Connection) -> tuple[int, ...]:
    """The sizes this connection takes (SQLite's oldest default limit is 999 parameters: up to 64
    rows; since 3.32 it is 32,766)."""
    limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // COLUMNS
    return tuple(rows for rows in STATEMENT_ROWS if rows <= limit)


class SqliteEventLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._worker = SqliteWorker(path, SCHEMA, "audit-sqlite", background=True)
        self._db = self._worker.db
        self._run = self._worker.run

    async def append(self, events: Sequence[Writable]) -> None:
        rows = [
            (e.ts, e.trace_id, e.type, e.schema_version, orjson.dumps(e.payload).decode()) for e in events
        ]
        await self._run(self._insert, rows)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction per batch, in statements of `STATEMENT_ROWS` rows: the GIL changes hands
        a few times a batch, not twice a row (`executemany`)."""
        db = self._db()
        first = 0
        with db:
            db.execute("BEGIN")
            for size in statement_rows(db):
                while len(rows) - first >= size:
                    part = rows[first : first + size]
                    db.execute(_insert_statement(size), [value for row in part for value in row])
                    first += size

    async def query(
        self,
        *,
        trace_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        clauses, params = ["id > ?"], [after_id]
        if trace_id is not None:
            clauses.append("trace_id = ?")
            params.append(trace_id)  # type: ignore[arg-type]
        if type is not None:
            clauses.append("type = ?")
            params.append(type)  # type: ignore[arg-type]
            if type != UNINDEXED_TYPE:
                # Said outright, so that SQLite knows the partial index holds every row asked for.
                clauses.append(f"type != '{UNINDEXED_TYPE}'")
        sql = (
            "SELECT id, ts, trace_id, type, schema_version, payload FROM events "
            f"WHERE {' AND '.join(clauses)} ORDER BY id {'DESC' if newest_first else 'ASC'} LIMIT ?"
        )
        rows = await self._run(self._select, sql, [*params, limit])
        return [
            StoredEvent(
                row[0],
                Event(
                    ts=row[1], trace_id=row[2], type=row[3], schema_version=row[4], payload=json.loads(row[5])
                ),
            )
            for row in rows
        ]

    def _select(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, params).fetchall()

    async def purge(self, before_ts: float) -> int:
        count: int = await self._run(self._delete, before_ts)
        return count

    def _delete(self, before_ts: float) -> int:
        """Ids are handed out in the order events are written, and an event is written within a
        moment of its `ts` (the trail lingers 50 ms), so `ts` rises with the id, give or take
        that moment between the processes sharing the file: the first id at or after the cutoff
        is found by bisection, and everything before it goes."""
        db = self._db()
        low, high = db.execute("SELECT min(id), max(id) FROM events").fetchone()
        if low is None:
            return 0
        high += 1  # the cut: the first id whose event is not older than the cutoff
        while low < high:
            middle = (low + high) // 2
            row = db.execute(
                "SELECT id, ts FROM events WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
            ).fetchone()
            if row[1] < before_ts:
                low = row[0] + 1
            else:
                high = middle
        return db.execute("DELETE FROM events WHERE id < ?", (low,)).rowcount

    async def aclose(self) -> None:
        await self._worker.aclose()
