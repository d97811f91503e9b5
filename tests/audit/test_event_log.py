"""One suite, both backends: SQLite (a file) and PostgreSQL (a real server started by the
fixture)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sluicegate.audit.events import CacheHit, Event, ProviderAttempt, RoutingTransition
from sluicegate.audit.log import EventLog
from sluicegate.audit.postgres import PostgresEventLog
from sluicegate.audit.sqlite import SCHEMA, STATEMENT_ROWS, SqliteEventLog, statement_rows
from sluicegate.sqlite_worker import open_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    log: EventLog
    if request.param == "sqlite":
        log = SqliteEventLog(tmp_path / "audit.db")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        log = PostgresEventLog(dsn)
        await log.purge(time.time() + 10)  # the server is shared by the session: start empty
    yield log
    await log.aclose()


def attempt(trace: str, outcome: str = "ok", ts: float | None = None) -> Event:
    event = Event.of(trace, ProviderAttempt(target="up/m", outcome=outcome))
    return event if ts is None else event.model_copy(update={"ts": ts})


async def test_append_and_query_by_trace_and_type(store: EventLog) -> None:
    await store.append([attempt("a"), attempt("b", "timeout"), Event.of("a", CacheHit(key="k"))])
    by_trace = await store.query(trace_id="a")
    assert [e.event.type for e in by_trace] == ["provider_attempt", "cache_hit"]
    by_type = await store.query(type="provider_attempt")
    assert [e.event.trace_id for e in by_type] == ["a", "b"]
    assert by_type[1].event.typed() == ProviderAttempt(target="up/m", outcome="timeout")


async def test_transitions_are_found_by_type_and_trace_like_any_event(store: EventLog) -> None:
    # SQLite indexes every type but the transitions (sqlite.py): both kinds of query still answer.
    moves = [
        Event.of(f"t{i}", RoutingTransition(from_state="received", to_state="authorize", elapsed_ms=0.1))
        for i in range(3)
    ]
    await store.append([moves[0], attempt("t0"), moves[1], attempt("t1"), moves[2]])
    newest = await store.query(type="routing_transition", newest_first=True, limit=2)
    assert [e.event.trace_id for e in newest] == ["t2", "t1"]
    assert [e.event.trace_id for e in await store.query(type="provider_attempt")] == ["t0", "t1"]
    by_trace = await store.query(trace_id="t1")
    assert [e.event.type for e in by_trace] == ["routing_transition", "provider_attempt"]


async def test_a_batch_larger_than_one_statement_is_written_whole_and_in_order(store: EventLog) -> None:
    # Two and a half of the largest statements, and the rest in every smaller size.
    count = STATEMENT_ROWS[0] * 2 + STATEMENT_ROWS[0] // 2 + 3
    await store.append([attempt(f"t{i:04d}") for i in range(count)])
    written = await store.query(limit=count + 10)
    assert [e.event.trace_id for e in written] == [f"t{i:04d}" for i in range(count)]


def test_sqlite_statement_sizes_fit_the_connections_parameter_limit(tmp_path: Path) -> None:
    """Few statements a batch (the writer gets the GIL back from a busy loop only now and then),
    within any SQLite's limit on parameters (999 before 3.32)."""
    db = open_database(tmp_path / "audit.db", SCHEMA)
    assert statement_rows(db) == STATEMENT_ROWS
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    assert statement_rows(db) == (64, 16, 4, 1)


async def test_sqlite_writes_batches_in_few_statements_of_few_sizes(tmp_path: Path) -> None:
    """A full batch takes eight statements; and however the batches come, the connection prepares
    five statements at most (one for every batch size seen cost a guarded load 30 MiB)."""
    store = SqliteEventLog(tmp_path / "audit.db")
    statements: list[str] = []
    await store._worker.run(lambda: store._db().set_trace_callback(statements.append))
    await store.append([attempt(f"t{i:04d}") for i in range(2048)])
    assert len([sql for sql in statements if sql.startswith("INSERT")]) == 8
    for size in (1, 7, 100, 255, 300, 1000):
        await store.append([attempt(f"s{size}-{i}") for i in range(size)])
    # The trace shows each INSERT with its values: its rows, counted, are one of the five sizes.
    sizes = {sql.count("), (") + 1 for sql in statements if sql.startswith("INSERT")}
    assert sizes <= set(STATEMENT_ROWS)
    assert len(await store.query(limit=5000)) == 2048 + 1 + 7 + 100 + 255 + 300 + 1000
    await store.aclose()


def test_sqlite_reads_other_types_through_the_partial_index(tmp_path: Path) -> None:
    db = open_database(tmp_path / "audit.db", SCHEMA)
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE id > 0 AND type = ? "
        "AND type != 'routing_transition' ORDER BY id DESC LIMIT 5",
        ("breaker_transition",),
    ).fetchall()
    assert "events_type_but_transitions" in str(plan)


async def test_after_id_pages_forward(store: EventLog) -> None:
    await store.append([attempt(f"t{i}") for i in range(5)])
    first = await store.query(limit=2)
    rest = await store.query(after_id=first[-1].id, limit=10)
    assert [e.event.trace_id for e in first + rest] == [f"t{i}" for i in range(5)]
    assert await store.query(after_id=rest[-1].id) == []


async def test_purge_removes_only_old_events(store: EventLog) -> None:
    now = time.time()
    await store.append([attempt("old", ts=now - 3600), attempt("new", ts=now)])
    assert await store.purge(now - 60) == 1
    assert [e.event.trace_id for e in await store.query()] == ["new"]


async def test_concurrent_writers_lose_nothing(store: EventLog) -> None:
    await asyncio.gather(*(store.append([attempt(f"w{i}-{j}") for j in range(20)]) for i in range(10)))
    assert len(await store.query(limit=1000)) == 200


async def test_newest_first(store: EventLog) -> None:
    await store.append([attempt(f"t{i}") for i in range(5)])
    latest = await store.query(limit=2, newest_first=True)
    assert [e.event.trace_id for e in latest] == ["t4", "t3"]


async def test_purge_cuts_a_long_log_at_its_cutoff(store: EventLog) -> None:
    now = time.time()
    await store.append([attempt(f"t{i}", ts=now - 1000 + i * 10) for i in range(100)])
    assert await store.purge(now - 500) == 50
    left = await store.query(limit=1000)
    assert [e.event.trace_id for e in left] == [f"t{i}" for i in range(50, 100)]
    assert await store.purge(now + 1) == 50
    assert await store.purge(now + 1) == 0
