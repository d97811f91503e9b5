"""`sluicegate route MESSAGE`: the routing decision for a message, without executing it (what
`POST /v1/route` answers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from sluicegate.calltrace import CallTrace
from sluicegate.cli.common import config_or_exit, fail, runtime_or_exit
from sluicegate.runtime import Runtime
from sluicegate.server.routing_api import decision_body
from sluicegate.types import CompletionRequest, Message


def route(
    message: str = typer.Argument(..., help="The message to route."),
    previous: str | None = typer.Option(None, "--previous", help="The previous user turn, if any."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file."),
) -> None:
    """The routing decision for a message: class, role or tool, confidence, stage, time."""
    settings = config_or_exit(config)
    if not settings.routing.enabled:
        fail("routing is switched off (routing.enabled: false)")
    runtime = runtime_or_exit(settings)
    turns = ((Message("user", previous),) if previous else ()) + (Message("user", message),)
    typer.echo(json.dumps(asyncio.run(_decide(runtime, turns)), ensure_ascii=False))


async def _decide(runtime: Runtime, turns: tuple[Message, ...]) -> dict[str, object]:
    router = runtime.pipeline.stages.router
    assert router is not None
    try:
        decision = await router.decide(CompletionRequest("auto", turns), CallTrace())
    finally:
        await runtime.aclose()
    return decision_body(decision)
