"""The event log in PostgreSQL (asyncpg), for many gateway instances sharing one audit trail."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from sluicegate.audit.events import Event, Writable
from sluicegate.audit.log import StoredEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS sluicegate_events (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    trace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    payload JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS sluicegate_events_trace ON sluicegate_events (trace_id);
CREATE INDEX IF NOT EXISTS sluicegate_events_type ON sluicegate_events (type, id);
CREATE INDEX IF NOT EXISTS sluicegate_events_ts ON sluicegate_events (ts);
"""


class PostgresEventLog:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: Any = None

    async def _connect(self) -> Any:
        if self._pool is None:
            import asyncpg

            pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
            # Instances may start together: serialise the schema creation.
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(727274)")
                await connection.execute(SCHEMA)
            self._pool = pool
        return self._pool

    async def append(self, events: Sequence[Writable]) -> None:
        pool = await self._connect()
        rows = [
            (e.ts, e.trace_id, e.type, e.schema_version, orjson.dumps(e.payload).decode()) for e in events
        ]
        async with pool.acquire() as connection:
            await connection.executemany(
                "INSERT INTO sluicegate_events (ts, trace_id, type, schema_version, payload) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                rows,
            )

    async def query(
        self,
        *,
        trace_id: str | None = None,
        type: str | None = None,
        after_id: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        pool = await self._connect()
        clauses, params = ["id > $1"], [after_id]
        for column, value in (("trace_id", trace_id), ("type", type)):
            if value is not None:
                params.append(value)  # type: ignore[arg-type]
                clauses.append(f"{column} = ${len(params)}")
        params.append(limit)
        order = "DESC" if newest_first else "ASC"
        sql = (
            "SELECT id, ts, trace_id, type, schema_version, payload::text AS payload FROM sluicegate_events "
            f"WHERE {' AND '.join(clauses)} ORDER BY id {order} LIMIT ${len(params)}"
        )
        async with pool.acquire() as connection:
            rows = await connection.fetch(sql, *params)
        return [
            StoredEvent(
                row["id"],
                Event(
                    ts=row["ts"],
                    trace_id=row["trace_id"],
                    type=row["type"],
                    schema_version=row["schema_version"],
                    payload=json.loads(row["payload"]),
                ),
            )
            for row in rows
        ]

    async def purge(self, before_ts: float) -> int:
        pool = await self._connect()
        async with pool.acquire() as connection:
            status: str = await connection.execute("DELETE FROM sluicegate_events WHERE ts < $1", before_ts)
        return int(status.split()[-1])

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
