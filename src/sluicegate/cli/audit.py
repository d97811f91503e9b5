"""`sluicegate audit tail`: read the event log the configuration names."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer
from rich.console import Console

from sluicegate.audit.log import EventLog, StoredEvent
from sluicegate.cli.common import config_or_exit, fail
from sluicegate.errors import ProviderSetupError
from sluicegate.runtime import build_event_log

audit_app = typer.Typer(no_args_is_help=True, help="Read the audit trail.")
out = Console(highlight=False, soft_wrap=True)


@audit_app.command()
def tail(
    trace: str | None = typer.Option(None, "--trace", help="Only this request's events."),
    type_: str | None = typer.Option(None, "--type", help="Only events of this type."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many of the latest events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file."),
) -> None:
    """The latest events, oldest first; with --follow, new ones as they are written."""
    settings = config_or_exit(config)
    try:
        store = build_event_log(settings.audit)
    except ProviderSetupError as exc:
        fail(str(exc))
    if store is None:
        fail("audit is disabled in this configuration")
    try:
        asyncio.run(_tail(store, trace, type_, limit, follow, as_json))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"cannot read the event log: {exc}")


async def _tail(
    store: EventLog, trace: str | None, type_: str | None, limit: int, follow: bool, as_json: bool
) -> None:
    try:
        found = await _latest(store, trace, type_, limit)
        for item in found:
            _print(item, as_json)
        last = found[-1].id if found else 0
        while follow:
            await asyncio.sleep(1)
            for item in await store.query(trace_id=trace, type=type_, after_id=last, limit=1000):
                _print(item, as_json)
                last = item.id
    finally:
        await store.aclose()


async def _latest(store: EventLog, trace: str | None, type_: str | None, limit: int) -> list[StoredEvent]:
    """The last `limit` matching events, oldest first."""
    return list(reversed(await store.query(trace_id=trace, type=type_, limit=limit, newest_first=True)))


def _print(item: StoredEvent, as_json: bool) -> None:
    event = item.event
    if as_json:
        out.print(json.dumps({"id": item.id, **event.model_dump(mode="json")}), markup=False)
        return
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.ts))
    detail = " ".join(f"{k}={v}" for k, v in event.payload.items() if v not in (None, [], {}))
    out.print(f"{when}  {event.trace_id[:12]}  {event.type:<20} {detail}", markup=False)
